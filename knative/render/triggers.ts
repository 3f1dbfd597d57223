/**
 * Routing is by Trigger filter, never by code (ARCHITECTURE.md, "Routes"). Each route is rendered as one Trigger per
 * event type with `spec.filter.attributes` (exact match on `type` plus the routing extension), not as one Trigger with
 * `spec.filters` and `any`: attribute filters work on every Knative release, while on a cluster whose Trigger CRD
 * predates `spec.filters` (or has new-trigger-filters off) the field would be pruned or ignored and the Trigger would
 * match every event. The route a Trigger belongs to is its `knclaw.dev/route` label (`agent-<instance>`,
 * `skill-<name>`, `channel-<type>`, `gateway`).
 *
 * - agent-<i>: message.received, run.requested, ping, tool.completed, approval.decided with knclawinstance=<i>, and
 *   timer.fired with knclawinstance=<i> and knclawtarget=agent (the agent's own due-time timers)
 * - skill-<s>: tool.requested with knclawskill=<s> (an external skill's Trigger points at its URL)
 * - channel-<t>: message.send, approval.requested and approval.resolved with knclawchannel=<t>, for every channel
 *   that posts (not the signed webhook, which only starts runs: config refuses a reply route naming it)
 * - gateway (the `http` channel's adapter): message.send, approval.requested and approval.resolved with
 *   knclawchannel=http, the run outcomes run.completed / run.failed of every instance, and timer.fired with
 *   knclawtarget=gateway (its re-drive timers, functions/gateway/redrive.ts), and message.received of every instance
 *   (the re-drive of chat messages, functions/gateway/chat-redrive.ts)
 */
import { EXT_CHANNEL, EXT_INSTANCE, EXT_SKILL, EXT_TARGET } from "../../eventing/catalog/attributes.ts";
import * as T from "../../eventing/catalog/types.ts";
import { LABEL_CHANNEL, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_ROUTE, LABEL_SKILL } from "../../runtime/names.ts";
import type { Delivery as DeliveryConfig } from "../config/primitives.ts";
import { RECEIVE_ONLY_CHANNELS } from "../config/sections/channels.ts";
import { deadLetterSink, deliverySpec } from "./broker.ts";
import { baseLabels, ksvcRef, metadata, type RenderContext } from "./context.ts";
import { oidcEnabled, withAudience } from "./delivery-auth.ts";
import type { Destination, RenderedObject } from "./types.ts";

/** Event types delivered to an agent instance, with the Trigger name suffix and any filter beyond the instance. */
const AGENT_ROUTES: ReadonlyArray<readonly [suffix: string, type: string, extra?: Record<string, string>]> = [
  ["message-received", T.MESSAGE_RECEIVED],
  ["run-requested", T.RUN_REQUESTED],
  ["ping", T.PING],
  ["tool-completed", T.TOOL_COMPLETED],
  ["approval-decided", T.APPROVAL_DECIDED],
  // Only the timers the agent armed: the gateway's timers of the same instance wake the gateway.
  ["timer-fired", T.TIMER_FIRED, { [EXT_TARGET]: "agent" }],
];

const CHANNEL_ROUTES: ReadonlyArray<readonly [suffix: string, type: string]> = [
  ["message-send", T.MESSAGE_SEND],
  ["approval-requested", T.APPROVAL_REQUESTED],
  ["approval-resolved", T.APPROVAL_RESOLVED],
];

/** The channel type the gateway answers for. */
const GATEWAY_CHANNEL = "http";

interface TriggerSpec {
  name: string;
  route: string;
  component: string;
  extraLabels: Record<string, string>;
  attributes: Record<string, string>;
  subscriber: Destination;
  delivery?: DeliveryConfig;
}

function trigger(ctx: RenderContext, spec: TriggerSpec): RenderedObject {
  const labels = {
    ...baseLabels(ctx, spec.name),
    [LABEL_COMPONENT]: spec.component,
    [LABEL_ROUTE]: spec.route,
    ...spec.extraLabels,
  };
  const body: Record<string, unknown> = {
    broker: ctx.brokerName,
    filter: { attributes: spec.attributes },
    subscriber: withAudience(ctx, spec.subscriber),
  };
  if (spec.delivery !== undefined) {
    // A Trigger's delivery replaces the Broker's wholesale: carry the dead-letter sink over, or failures are dropped.
    const delivery = deliverySpec(spec.delivery);
    const sink = deadLetterSink(ctx);
    if (sink !== undefined) delivery.deadLetterSink = sink;
    body.delivery = delivery;
  }
  return {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: metadata(ctx, spec.name, labels),
    spec: body,
  };
}

export function renderTriggers(ctx: RenderContext): RenderedObject[] {
  const config = ctx.config;
  const out: RenderedObject[] = [];
  for (const [name, instance] of Object.entries(config.instances)) {
    const route = `agent-${name}`;
    for (const [suffix, type, extra] of AGENT_ROUTES) {
      out.push(
        trigger(ctx, {
          name: `${route}-${suffix}`,
          route,
          component: "agent",
          extraLabels: { [LABEL_INSTANCE]: name },
          attributes: { type, [EXT_INSTANCE]: name, ...extra },
          subscriber: { ref: ksvcRef(route) },
          ...(instance.delivery ? { delivery: instance.delivery } : {}),
        }),
      );
    }
  }
  for (const [type, channel] of Object.entries(config.channels)) {
    // A receive-only channel (the signed webhook) would answer every event routed to it with 400: none is.
    if (channel === undefined || !channel.enabled || RECEIVE_ONLY_CHANNELS.has(type)) continue;
    const route = `channel-${type}`;
    for (const [suffix, eventType] of CHANNEL_ROUTES) {
      out.push(
        trigger(ctx, {
          name: `${route}-${suffix}`,
          route,
          component: "channel",
          extraLabels: { [LABEL_CHANNEL]: type },
          attributes: { type: eventType, [EXT_CHANNEL]: type },
          subscriber: { ref: ksvcRef(route) },
        }),
      );
    }
  }
  if (config.gateway.enabled) {
    for (const [suffix, eventType] of CHANNEL_ROUTES) {
      out.push(
        trigger(ctx, {
          name: `gateway-${suffix}`,
          route: "gateway",
          component: "gateway",
          extraLabels: {},
          attributes: { type: eventType, [EXT_CHANNEL]: GATEWAY_CHANNEL },
          subscriber: { ref: ksvcRef("gateway") },
        }),
      );
    }
    for (const [suffix, attributes] of [
      ["run-completed", { type: T.RUN_COMPLETED }],
      ["run-failed", { type: T.RUN_FAILED }],
      // Its own re-drive timers, of every instance (functions/gateway/redrive.ts).
      ["timer-fired", { type: T.TIMER_FIRED, [EXT_TARGET]: "gateway" }],
      // Every chat message, of every instance: re-driven until its run ends (functions/gateway/chat-redrive.ts).
      ["message-received", { type: T.MESSAGE_RECEIVED }],
    ] as const) {
      out.push(
        trigger(ctx, {
          name: `gateway-${suffix}`,
          route: "gateway",
          component: "gateway",
          extraLabels: {},
          attributes,
          subscriber: { ref: ksvcRef("gateway") },
        }),
      );
    }
  }
  for (const [name, skill] of Object.entries(config.skills)) {
    if (!skill.enabled) continue;
    const route = `skill-${name}`;
    out.push(
      trigger(ctx, {
        name: route,
        route,
        component: "skill",
        extraLabels: { [LABEL_SKILL]: name },
        attributes: { type: T.TOOL_REQUESTED, [EXT_SKILL]: name },
        subscriber: skill.external !== undefined ? externalSubscriber(ctx, skill.external) : { ref: ksvcRef(route) },
        ...(skill.delivery ? { delivery: skill.delivery } : {}),
      }),
    );
  }
  return out;
}

/** An external skill's URL, with the audience its deliveries' tokens carry when OIDC is on and it names one. */
function externalSubscriber(ctx: RenderContext, external: { url: string; audience?: string | undefined }): Destination {
  return oidcEnabled(ctx) && external.audience !== undefined
    ? { uri: external.url, audience: external.audience }
    : { uri: external.url };
}
