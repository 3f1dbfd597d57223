import { defineManifest } from "../package/manifest.ts";

const read = { mutates: false, approval: false, groups: ["k8s:read"] };
const write = { mutates: true, approval: true, groups: ["k8s:write"] };

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
  tools: {
    list_pods: read,
    get_pod: read,
    explain_pod: read,
    pod_logs: read,
    list_deployments: read,
    get_deployment: read,
    list_statefulsets: read,
    get_statefulset: read,
    list_services: read,
    get_service: read,
    list_events: read,
    list_nodes: read,
    get_node: read,
    scale_deployment: write,
    restart_deployment: write,
    delete_pod: write,
    cordon_node: write,
  },
  timeoutSeconds: 30,
  maxOutputBytes: 256 * 1024,
});
