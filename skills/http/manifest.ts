import { defineManifest } from "../package/manifest.ts";

/** The http skill reaches only the hosts the deployer lists for it; it holds no Kubernetes rights and no secrets. */
export const manifest = defineManifest({
  egress: [{ kind: "configured-hosts", ports: [80, 443] }],
  timeoutSeconds: 30,
  maxOutputBytes: 256 * 1024,
});
