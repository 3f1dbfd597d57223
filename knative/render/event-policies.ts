/**
 * EventPolicies for the Broker, with `oidc.enabled` (knative/eventing pkg/apis/eventing/v1alpha1/eventpolicy_types.go;
 * docs: eventing/features/authorization.md). With any policy applying to the Broker, its ingress takes an event only
 * from a subject some applying policy lists in `from`, and only if that policy's `filters` all pass (403 otherwise);
 * without one, the cluster's `default-authorization-mode` would decide (allow-same-namespace by default: any
 * ServiceAccount of the namespace, any event). One policy per sender, each limited to the event types that sender
 * emits (senders.ts) and to the attributes that bind them to it:
 *
 * - `<function>-sends`: a function that posts to the Broker (agents, channel adapters, the gateway, the deadletter
 *   function's replays), as its own ServiceAccount (`from.sub`: `system:serviceaccount:<namespace>:<function>`).
 * - `<skill Trigger>-replies`: a skill's `tool.completed`, which reaches the Broker as the reply to a delivery, sent by
 *   the broker as the skill Trigger's OIDC identity (`from.ref` the Trigger).
 * - `<PingSource>-ticks`: a schedule's ticks, sent as the PingSource's OIDC identity (`from.ref` the PingSource).
 *
 * One policy per subject matters: the ingress decides by the first applying policy, by name, whose `from` matches the
 * sender (pkg/auth/event_policy.go, SubjectAndFiltersPass), so a subject listed twice would be judged by one list only.
 * The filters use the `exact`, `all` and `any` dialects (no CESQL), which every release with EventPolicies evaluates.
 */

import { EXT_SCHEDULE } from "../../eventing/catalog/attributes.ts";
import { serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_SKILL } from "../../runtime/names.ts";
import type { FunctionSpec } from "../config/functions.ts";
import { brokerRef, functionLabels, metadata, type RenderContext } from "./context.ts";
import { oidcEnabled } from "./delivery-auth.ts";
import { type Sender, senderBinding, senderTypes } from "./senders.ts";
import type { RenderedObject } from "./types.ts";

type Filter = Record<string, unknown>;

/** The Broker's EventPolicies; `rendered` holds the Triggers and PingSources whose identities send. */
export function renderEventPolicies(ctx: RenderContext, rendered: readonly RenderedObject[]): RenderedObject[] {
  if (!oidcEnabled(ctx)) return [];
  const out: RenderedObject[] = [];
  for (const fn of ctx.functions) {
    if (!fn.producer) continue;
    out.push(
      ...policy(
        ctx,
        `${fn.name}-sends`,
        functionLabels(ctx, fn),
        { sub: serviceAccountSubject(ctx.namespace, fn.name) },
        functionSender(fn),
      ),
    );
  }
  for (const object of rendered) {
    const labels = object.metadata.labels ?? {};
    if (object.kind === "Trigger" && labels[LABEL_COMPONENT] === "skill" && labels[LABEL_SKILL] !== undefined) {
      const skill = labels[LABEL_SKILL];
      const sender: Sender = { kind: "skill", skill, external: ctx.config.skills[skill]?.external !== undefined };
      out.push(...policy(ctx, `${object.metadata.name}-replies`, labels, { ref: objectRef(ctx, object) }, sender));
    }
    if (object.kind === "PingSource" && labels[LABEL_INSTANCE] !== undefined) {
      const schedule = pingSchedule(object);
      const sender: Sender = { kind: "ping", instance: labels[LABEL_INSTANCE], schedule };
      out.push(...policy(ctx, `${object.metadata.name}-ticks`, labels, { ref: objectRef(ctx, object) }, sender));
    }
  }
  return out;
}

function policy(
  ctx: RenderContext,
  name: string,
  labels: Record<string, string>,
  from: Record<string, unknown>,
  sender: Sender,
): RenderedObject[] {
  // A sender the catalog gives no type to needs no permission at all.
  if (senderTypes(sender).length === 0) return [];
  return [
    {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: metadata(ctx, name, { ...labels }),
      spec: { to: [{ ref: brokerRef(ctx) }], from: [from], filters: senderFilters(sender) },
    },
  ];
}

/**
 * The filters a sender's events must pass: one of its types (with what binds that type to it), then what binds all
 * of its events to it (its `source`, its instance).
 */
function senderFilters(sender: Sender): Filter[] {
  const alternatives = senderTypes(sender).map((type) => exactAll({ type, ...senderBinding(sender, type) }));
  const types = alternatives.length === 1 ? alternatives[0]! : { any: alternatives };
  return [types, ...Object.entries(senderBinding(sender)).map(([name, value]) => ({ exact: { [name]: value } }))];
}

/** `exact` holds one attribute per filter (Knative's rule), so several are an `all`. */
function exactAll(attributes: Record<string, string>): Filter {
  const each = Object.entries(attributes).map(([name, value]) => ({ exact: { [name]: value } }));
  return each.length === 1 ? each[0]! : { all: each };
}

function functionSender(fn: FunctionSpec): Sender {
  switch (fn.component) {
    case "agent":
      return { kind: "agent", instance: fn.instance! };
    case "channel":
      return { kind: "channel", channel: fn.channel! };
    case "gateway":
      return { kind: "gateway" };
    case "deadletter":
      return { kind: "deadletter" };
    case "memory":
      return { kind: "memory" };
    default:
      throw new Error(`${fn.name} sends events, but knative/render/senders.ts does not say which it may send`);
  }
}

function objectRef(ctx: RenderContext, object: RenderedObject): Record<string, string> {
  // The namespace spelled out: Knative's webhook would default it, and a defaulted field differs on every apply.
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace: ctx.namespace };
}

function pingSchedule(object: RenderedObject): string {
  const spec = object.spec as { ceOverrides?: { extensions?: Record<string, string> } } | undefined;
  const schedule = spec?.ceOverrides?.extensions?.[EXT_SCHEDULE];
  if (schedule === undefined) throw new Error(`PingSource ${object.metadata.name} names no ${EXT_SCHEDULE}`);
  return schedule;
}
