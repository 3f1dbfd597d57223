import { z } from "zod";
import { defineTool } from "../package/tool.ts";

/** Object names as Kubernetes validates them, so malformed names are refused before a request is made. */
const namespace = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a namespace name")
  .describe("Namespace");
const name = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "a Kubernetes object name")
  .describe("Object name");
const labelSelector = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_./=!,() -]*$/, "a label selector such as app=web,tier!=db")
  .optional()
  .describe("Label selector, e.g. app=web");
const limit = z.number().int().min(1).max(500).default(100).describe("Most items to return");

/** Reads change nothing; writes change the cluster and wait for a human by default. */
const read = { mutates: false, approval: false, groups: ["k8s:read"] };
const write = { mutates: true, approval: true, groups: ["k8s:write"] };

const listInput = z.object({ namespace, labelSelector, limit }).strict();
const getInput = z.object({ namespace, name }).strict();

const listPods = defineTool({
  name: "list_pods",
  description: "List pods in a namespace with phase, readiness, restarts and node.",
  input: z
    .object({
      namespace,
      labelSelector,
      limit,
      phase: z
        .enum(["Pending", "Running", "Succeeded", "Failed", "Unknown"])
        .optional()
        .describe("Only pods in this phase"),
    })
    .strict(),
  ...read,
});
const getPod = defineTool({
  name: "get_pod",
  description: "Get one pod: containers, images, states, restarts, conditions, owner.",
  input: getInput,
  ...read,
});
const explainPod = defineTool({
  name: "explain_pod",
  description:
    "Explain why a pod is not ready (scheduling, image pulls, crashes, probes, init containers, volumes), like kubectl describe.",
  input: getInput,
  ...read,
});
const podLogs = defineTool({
  name: "pod_logs",
  description: "Read the last lines of a container's log.",
  input: z
    .object({
      namespace,
      name,
      container: z
        .string()
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
        .optional()
        .describe("Container (required when the pod has several)"),
      tailLines: z.number().int().min(1).max(5000).default(200).describe("Lines from the end"),
      limitBytes: z
        .number()
        .int()
        .min(1)
        .max(256 * 1024)
        .default(64 * 1024)
        .describe("Most bytes to return"),
      previous: z.boolean().default(false).describe("The previous (crashed) container's log"),
    })
    .strict(),
  ...read,
});
const listDeployments = defineTool({
  name: "list_deployments",
  description: "List deployments with desired, ready, updated and available replicas.",
  input: listInput,
  ...read,
});
const getDeployment = defineTool({
  name: "get_deployment",
  description: "Get one deployment: replicas, images, strategy, conditions.",
  input: getInput,
  ...read,
});
const listStatefulSets = defineTool({
  name: "list_statefulsets",
  description: "List statefulsets with desired and ready replicas.",
  input: listInput,
  ...read,
});
const getStatefulSet = defineTool({
  name: "get_statefulset",
  description: "Get one statefulset: replicas, revisions, images.",
  input: getInput,
  ...read,
});
const listServices = defineTool({
  name: "list_services",
  description: "List services with type, cluster IP, ports and selector.",
  input: listInput,
  ...read,
});
const getService = defineTool({
  name: "get_service",
  description: "Get one service.",
  input: getInput,
  ...read,
});
const listEvents = defineTool({
  name: "list_events",
  description: "List recent events in a namespace, newest first, optionally only those about one object.",
  input: z
    .object({
      namespace,
      kind: z
        .string()
        .max(63)
        .regex(/^[A-Za-z]+$/)
        .optional()
        .describe("Kind of the object, e.g. Pod"),
      objectName: name.optional().describe("Name of the object the events are about"),
      warningsOnly: z.boolean().default(false),
      limit,
    })
    .strict(),
  ...read,
});
const listNodes = defineTool({
  name: "list_nodes",
  description: "List nodes with readiness, schedulability, roles, taints and version.",
  input: z.object({ labelSelector, limit }).strict(),
  ...read,
});
const getNode = defineTool({
  name: "get_node",
  description: "Get one node: conditions, capacity, taints.",
  input: z.object({ name }).strict(),
  ...read,
});

const scaleDeployment = defineTool({
  name: "scale_deployment",
  description: "Set a deployment's replica count (through the scale subresource).",
  input: z.object({ namespace, name, replicas: z.number().int().min(0).max(1000) }).strict(),
  ...write,
});
const restartDeployment = defineTool({
  name: "restart_deployment",
  description: "Rolling-restart a deployment's pods, as kubectl rollout restart does.",
  input: getInput,
  ...write,
});
const deletePod = defineTool({
  name: "delete_pod",
  description: "Delete a pod (its controller, if any, replaces it).",
  input: z.object({ namespace, name, gracePeriodSeconds: z.number().int().min(0).max(3600).optional() }).strict(),
  ...write,
});
const cordonNode = defineTool({
  name: "cordon_node",
  description: "Mark a node unschedulable (cordon), or schedulable again with cordon: false. Does not drain.",
  input: z.object({ name, cordon: z.boolean().default(true) }).strict(),
  ...write,
});

export const tools = [
  listPods,
  getPod,
  explainPod,
  podLogs,
  listDeployments,
  getDeployment,
  listStatefulSets,
  getStatefulSet,
  listServices,
  getService,
  listEvents,
  listNodes,
  getNode,
  scaleDeployment,
  restartDeployment,
  deletePod,
  cordonNode,
] as const;
