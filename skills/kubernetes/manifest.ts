import { defineManifest } from "../package/manifest.ts";

/**
 * The kubernetes skill acts as a per-instance ServiceAccount it impersonates, bound only in the namespaces the
 * instance's config grants. These are that ServiceAccount's rules, and all of them: Secrets and ConfigMaps are not
 * here, so no instance can read them whatever it asks.
 */
export const manifest = defineManifest({
  kubernetes: {
    identity: "instance",
    rules: [
      { apiGroups: [""], resources: ["pods", "services", "events"], verbs: ["get", "list"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["delete"] },
      { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["get", "list"] },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["patch"] },
      { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch"] },
    ],
    clusterRules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "patch"] }],
  },
  egress: [{ kind: "kubernetes-api" }],
  timeoutSeconds: 30,
  maxOutputBytes: 256 * 1024,
});
