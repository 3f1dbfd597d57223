import { defineManifest } from "../package/manifest.ts";

/**
 * The memory skill talks only to the memory service, with a notes-scoped token; it has no Kubernetes rights and no
 * internet. Forgetting deletes data, so it waits for approval by default.
 */
export const manifest = defineManifest({
  egress: [{ kind: "service", service: "memory" }],
  tools: {
    remember: { mutates: true, approval: false, groups: ["memory:write"] },
    recall: { mutates: false, approval: false, groups: ["memory:read"] },
    forget: { mutates: true, approval: true, groups: ["memory:write"] },
  },
  timeoutSeconds: 15,
  maxOutputBytes: 128 * 1024,
});
