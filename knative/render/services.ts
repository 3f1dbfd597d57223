/**
 * One Knative Service per function, locked down: a restricted container securityContext (non-root, read-only root
 * filesystem, no privilege escalation, ALL capabilities dropped, RuntimeDefault seccomp), no service account token
 * unless the function talks to the Kubernetes API, no service links, cluster-local unless it must be reachable from
 * outside, scale-to-zero by default. The pod-level securityContext is left out on purpose: Knative refuses it unless
 * the `kubernetes.podspec-securitycontext` feature is on, and the container-level one covers the same ground.
 */

import { LIVENESS_PATH, READINESS_PATH } from "../../runtime/function.ts";
import {
  ANNOTATION_DEV_PATH_PREFIX,
  ANNOTATION_ENTRY,
  CONTAINER_NAME,
  CONTAINER_PORT,
  LABEL_VISIBILITY,
} from "../../runtime/names.ts";
import type { FunctionSpec } from "../config/functions.ts";
import { resolveImage } from "../config/functions.ts";
import { functionLabels, metadata, type RenderContext } from "./context.ts";
import { deliveryAuthVolume } from "./delivery-auth.ts";
import { functionEnv } from "./env.ts";
import { ANNOTATION_SKILL_FOLDERS_HASH, skillFolderVolume } from "./skill-folders.ts";
import type { RenderedObject } from "./types.ts";

export const RESTRICTED_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
} as const;

const AUTOSCALING = "autoscaling.knative.dev";

export function renderService(ctx: RenderContext, fn: FunctionSpec): RenderedObject {
  const knobs = fn.knobs;
  const labels = functionLabels(ctx, fn);
  const serviceLabels = fn.public ? labels : { ...labels, [LABEL_VISIBILITY]: "cluster-local" };
  const templateAnnotations: Record<string, string> = { [`${AUTOSCALING}/min-scale`]: String(knobs.minScale) };
  if (knobs.maxScale !== undefined) templateAnnotations[`${AUTOSCALING}/max-scale`] = String(knobs.maxScale);
  if (knobs.initialScale !== undefined)
    templateAnnotations[`${AUTOSCALING}/initial-scale`] = String(knobs.initialScale);
  if (knobs.target !== undefined) templateAnnotations[`${AUTOSCALING}/target`] = String(knobs.target);
  if (knobs.metric !== undefined) templateAnnotations[`${AUTOSCALING}/metric`] = knobs.metric;
  if (knobs.window !== undefined) templateAnnotations[`${AUTOSCALING}/window`] = knobs.window;
  if (knobs.scaleDownDelay !== undefined) templateAnnotations[`${AUTOSCALING}/scale-down-delay`] = knobs.scaleDownDelay;

  const resources: Record<string, Record<string, string>> = {};
  if (knobs.resources.requests && Object.keys(knobs.resources.requests).length > 0)
    resources.requests = { ...knobs.resources.requests };
  if (knobs.resources.limits && Object.keys(knobs.resources.limits).length > 0)
    resources.limits = { ...knobs.resources.limits };

  const image = resolveImage(ctx.config, fn);
  if (image === undefined) throw new Error(`no image for function ${fn.name}`);
  const skillFolders = fn.component === "agent" ? skillFolderVolume(ctx, fn.instance!) : undefined;
  // A new revision when a folder skill changes: the agent reads its skill folders only at start.
  if (skillFolders !== undefined) templateAnnotations[ANNOTATION_SKILL_FOLDERS_HASH] = skillFolders.hash;
  const volumes = [deliveryAuthVolume(ctx, fn), skillFolders].flatMap((entry) => (entry === undefined ? [] : [entry]));

  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: metadata(ctx, fn.name, serviceLabels, { [ANNOTATION_ENTRY]: fn.entry, ...devPaths(fn) }),
    spec: {
      template: {
        metadata: { labels, annotations: templateAnnotations },
        spec: {
          serviceAccountName: fn.name,
          // Knative only lets this be set to false; functions that call the Kubernetes API leave it to the ServiceAccount.
          ...(fn.kubeApi ? {} : { automountServiceAccountToken: false }),
          enableServiceLinks: false,
          containerConcurrency: knobs.containerConcurrency,
          timeoutSeconds: knobs.timeoutSeconds,
          ...(volumes.length === 0 ? {} : { volumes: volumes.map((entry) => entry.volume) }),
          containers: [
            {
              name: CONTAINER_NAME,
              image,
              // protocol is spelled out: the ksvc CRD defaults it, and an omitted default would differ on every apply.
              ports: [{ name: "http1", containerPort: CONTAINER_PORT, protocol: "TCP" }],
              env: functionEnv(ctx, fn),
              readinessProbe: { httpGet: { path: READINESS_PATH } },
              livenessProbe: { httpGet: { path: LIVENESS_PATH } },
              ...(volumes.length === 0 ? {} : { volumeMounts: volumes.map((entry) => entry.mount) }),
              ...(Object.keys(resources).length > 0 ? { resources } : {}),
              securityContext: structuredClone(RESTRICTED_SECURITY_CONTEXT),
            },
          ],
        },
      },
    },
  };
}

/** Where the function's own HTTP paths live on the `knclaw dev` port: channel webhooks and the gateway API. */
function devPaths(fn: FunctionSpec): Record<string, string> {
  if (fn.component === "channel" && fn.channel !== undefined) {
    return { [ANNOTATION_DEV_PATH_PREFIX]: `/channels/${fn.channel}` };
  }
  // `/mcp` is the MCP server; `/` is the operator console's entry (the root path only, see cli/dev/path-routes.ts),
  // `/console` its pages.
  if (fn.component === "gateway") return { [ANNOTATION_DEV_PATH_PREFIX]: "/api/v1,/v1,/mcp,/console,/" };
  return {};
}
