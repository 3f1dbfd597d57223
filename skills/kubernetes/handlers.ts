import type { CoreV1Event, V1ListMeta } from "@kubernetes/client-node";
import type { ToolContext, ToolHandlers } from "../package/tool.ts";
import { ToolFailure } from "../runtime/tool-error.ts";
import { type CallOptions, callOptions } from "./call-options.ts";
import { loadClientNode } from "./client-node.ts";
import { kubernetesFailure } from "./errors.ts";
import { explainPod } from "./explain-pod.ts";
import type { KubeAccess, KubeClients } from "./kube-access.ts";
import {
  deploymentDetail,
  deploymentSummary,
  eventSummary,
  eventTime,
  nodeDetail,
  nodeSummary,
  podDetail,
  podSummary,
  serviceSummary,
  statefulSetDetail,
  statefulSetSummary,
} from "./summarize.ts";
import type { tools } from "./tools.ts";

export interface KubernetesSkillOptions {
  access: KubeAccess;
  now?: () => Date;
}

/** The annotation `kubectl rollout restart` sets; changing the pod template is what rolls the pods. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
/** Events are fetched in one page this size, then sorted newest first: the API lists them by name, not time. */
const EVENT_PAGE = 500;

export function createKubernetesHandlers(options: KubernetesSkillOptions): ToolHandlers<typeof tools> {
  const now = options.now ?? (() => new Date());
  /** Every call runs as the calling instance's identity, taken from the verified capability token. */
  const as = async <T>(
    context: ToolContext,
    run: (clients: KubeClients, call: CallOptions) => Promise<T>,
  ): Promise<T> => {
    try {
      const clients = await options.access.forInstance(context.instance);
      return await run(clients, callOptions(await loadClientNode(), context.signal));
    } catch (error) {
      throw kubernetesFailure(error, context.signal);
    }
  };

  return {
    list_pods: (args, context) =>
      as(context, async ({ core }, call) => {
        const list = await core.listNamespacedPod(
          {
            namespace: args.namespace,
            labelSelector: args.labelSelector,
            limit: args.limit,
            ...(args.phase ? { fieldSelector: `status.phase=${args.phase}` } : {}),
          },
          call.read,
        );
        return page(list.items.map(podSummary), list.metadata);
      }),
    get_pod: (args, context) =>
      as(context, async ({ core }, call) => podDetail(await core.readNamespacedPod(args, call.read))),
    explain_pod: (args, context) =>
      as(context, async ({ core }, call) => {
        const pod = await core.readNamespacedPod(args, call.read);
        let events: CoreV1Event[] = [];
        let eventsProblem: string | undefined;
        try {
          const list = await core.listNamespacedEvent(
            {
              namespace: args.namespace,
              fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${args.name}`,
              limit: EVENT_PAGE,
            },
            call.read,
          );
          events = list.items;
        } catch (error) {
          // The pod alone still explains most failures; say that the events were not available and why.
          eventsProblem = kubernetesFailure(error, call.signal).message;
        }
        const explanation = explainPod(pod, events);
        return eventsProblem ? { ...explanation, eventsUnavailable: eventsProblem } : explanation;
      }),
    pod_logs: (args, context) =>
      as(context, async ({ core }, call) => {
        const text = await core.readNamespacedPodLog(
          {
            name: args.name,
            namespace: args.namespace,
            container: args.container,
            tailLines: args.tailLines,
            limitBytes: args.limitBytes,
            previous: args.previous,
          },
          call.read,
        );
        // The API server honours limitBytes; cutting again here keeps the cap even against one that does not.
        const bytes = Buffer.from(text ?? "");
        const truncated = bytes.length >= args.limitBytes;
        const log = truncated ? bytes.subarray(0, args.limitBytes).toString("utf8") : bytes.toString("utf8");
        return {
          pod: args.name,
          namespace: args.namespace,
          ...(args.container ? { container: args.container } : {}),
          previous: args.previous,
          lines: log === "" ? 0 : log.split("\n").length - (log.endsWith("\n") ? 1 : 0),
          truncated,
          log,
        };
      }),
    list_deployments: (args, context) =>
      as(context, async ({ apps }, call) => {
        const list = await apps.listNamespacedDeployment(args, call.read);
        return page(list.items.map(deploymentSummary), list.metadata);
      }),
    get_deployment: (args, context) =>
      as(context, async ({ apps }, call) => deploymentDetail(await apps.readNamespacedDeployment(args, call.read))),
    list_statefulsets: (args, context) =>
      as(context, async ({ apps }, call) => {
        const list = await apps.listNamespacedStatefulSet(args, call.read);
        return page(list.items.map(statefulSetSummary), list.metadata);
      }),
    get_statefulset: (args, context) =>
      as(context, async ({ apps }, call) => statefulSetDetail(await apps.readNamespacedStatefulSet(args, call.read))),
    list_services: (args, context) =>
      as(context, async ({ core }, call) => {
        const list = await core.listNamespacedService(args, call.read);
        return page(list.items.map(serviceSummary), list.metadata);
      }),
    get_service: (args, context) =>
      as(context, async ({ core }, call) => serviceSummary(await core.readNamespacedService(args, call.read))),
    list_events: (args, context) =>
      as(context, async ({ core }, call) => {
        const fields = [
          args.kind ? `involvedObject.kind=${args.kind}` : undefined,
          args.objectName ? `involvedObject.name=${args.objectName}` : undefined,
          args.warningsOnly ? "type=Warning" : undefined,
        ].filter((field): field is string => field !== undefined);
        const list = await core.listNamespacedEvent(
          {
            namespace: args.namespace,
            limit: EVENT_PAGE,
            ...(fields.length > 0 ? { fieldSelector: fields.join(",") } : {}),
          },
          call.read,
        );
        const newest = [...list.items].sort((a, b) => eventTime(b) - eventTime(a));
        return { items: newest.slice(0, args.limit).map(eventSummary), total: newest.length };
      }),
    list_nodes: (args, context) =>
      as(context, async ({ core }, call) => {
        const list = await core.listNode(args, call.read);
        return page(list.items.map(nodeSummary), list.metadata);
      }),
    get_node: (args, context) =>
      as(context, async ({ core }, call) => nodeDetail(await core.readNode(args, call.read))),

    scale_deployment: (args, context) =>
      as(context, async ({ apps }, call) => {
        const current = await apps.readNamespacedDeploymentScale(
          { name: args.name, namespace: args.namespace },
          call.read,
        );
        const scaled = await apps.patchNamespacedDeploymentScale(
          { name: args.name, namespace: args.namespace, body: { spec: { replicas: args.replicas } } },
          call.mergePatch,
        );
        return {
          deployment: args.name,
          namespace: args.namespace,
          previousReplicas: current.spec?.replicas ?? 0,
          replicas: scaled.spec?.replicas ?? args.replicas,
        };
      }),
    restart_deployment: (args, context) =>
      as(context, async ({ apps }, call) => {
        const deployment = await apps.readNamespacedDeployment(args, call.read);
        if (deployment.spec?.paused) {
          throw new ToolFailure("Conflict", `deployment ${args.name} is paused: resume it before restarting`, {
            retryable: false,
          });
        }
        const restartedAt = now().toISOString();
        const patched = await apps.patchNamespacedDeployment(
          {
            name: args.name,
            namespace: args.namespace,
            body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: restartedAt } } } } },
          },
          call.strategicPatch,
        );
        return {
          deployment: args.name,
          namespace: args.namespace,
          restartedAt,
          generation: patched.metadata?.generation,
        };
      }),
    delete_pod: (args, context) =>
      as(context, async ({ core }, call) => {
        const deleted = await core.deleteNamespacedPod(
          {
            name: args.name,
            namespace: args.namespace,
            ...(args.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: args.gracePeriodSeconds }),
          },
          call.read,
        );
        const owner = deleted.metadata?.ownerReferences?.find((ref) => ref.controller);
        return {
          deleted: args.name,
          namespace: args.namespace,
          replacedBy: owner
            ? `${owner.kind}/${owner.name} will create a replacement`
            : "nothing: the pod has no controller",
        };
      }),
    cordon_node: (args, context) =>
      as(context, async ({ core }, call) => {
        const node = await core.readNode({ name: args.name }, call.read);
        const unschedulable = node.spec?.unschedulable === true;
        if (unschedulable === args.cordon) return { node: args.name, unschedulable, changed: false };
        const patched = await core.patchNode(
          { name: args.name, body: { spec: { unschedulable: args.cordon } } },
          call.strategicPatch,
        );
        return { node: args.name, unschedulable: patched.spec?.unschedulable === true, changed: true };
      }),
  };
}

function page<T>(items: T[], metadata: V1ListMeta | undefined) {
  const more = metadata?._continue !== undefined && metadata._continue !== "";
  return { items, count: items.length, ...(more ? { more: true, remaining: metadata?.remainingItemCount } : {}) };
}
