import { defineManifest } from "../package/manifest.ts";

/**
 * The memory skill talks only to the memory service, with a notes-scoped token; it has no Kubernetes rights and no
 * internet.
 */
export const manifest = defineManifest({
  egress: [{ kind: "service", service: "memory" }],
  timeoutSeconds: 15,
  maxOutputBytes: 128 * 1024,
});
