import { defineManifest } from "../package/manifest.ts";

/** Reads the clock and nothing else: no Kubernetes rights, no egress, nothing that mutates. */
export const manifest = defineManifest({
  egress: [],
  tools: {
    now: { mutates: false, approval: false, groups: ["time:read"] },
    convert: { mutates: false, approval: false, groups: ["time:read"] },
  },
  timeoutSeconds: 5,
  maxOutputBytes: 4 * 1024,
});
