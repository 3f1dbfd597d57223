import { defineManifest } from "../package/manifest.ts";

/** Reads the clock and nothing else: no Kubernetes rights, no egress, no secrets; small answers, fast. */
export const manifest = defineManifest({
  egress: [],
  timeoutSeconds: 5,
  maxOutputBytes: 4 * 1024,
});
