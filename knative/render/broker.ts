/**
 * The Broker: its class, delivery defaults (every Trigger without its own delivery inherits them) and its
 * dead-letter sink (the knclaw deadletter function unless the config names another Destination or none).
 */

import { ANNOTATION_BROKER_CLASS } from "../../runtime/names.ts";
import type { Delivery as DeliveryConfig } from "../config/primitives.ts";
import { baseLabels, findFunction, ksvcRef, metadata, type RenderContext } from "./context.ts";
import type { Destination, RenderedObject } from "./types.ts";

export function renderBroker(ctx: RenderContext): RenderedObject {
  const broker = ctx.config.broker;
  const delivery: Record<string, unknown> = deliverySpec(broker.delivery);
  const sink = deadLetterSink(ctx);
  if (sink !== undefined) delivery.deadLetterSink = sink;
  const spec: Record<string, unknown> = {};
  if (broker.config !== undefined) spec.config = { ...broker.config };
  spec.delivery = delivery;
  return {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: metadata(
      ctx,
      broker.name,
      { ...baseLabels(ctx, broker.name), "knclaw.dev/component": "broker" },
      {
        [ANNOTATION_BROKER_CLASS]: broker.class,
      },
    ),
    spec,
  };
}

export function deliverySpec(delivery: DeliveryConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (delivery.retry !== undefined) out.retry = delivery.retry;
  if (delivery.backoffPolicy !== undefined) out.backoffPolicy = delivery.backoffPolicy;
  if (delivery.backoffDelay !== undefined) out.backoffDelay = delivery.backoffDelay;
  if (delivery.timeout !== undefined) out.timeout = delivery.timeout;
  return out;
}

export function deadLetterSink(ctx: RenderContext): Destination | undefined {
  const sink = ctx.config.broker.deadLetterSink;
  if (sink.disabled === true) return undefined;
  if (sink.destination !== undefined) {
    const dest: Destination = {};
    if (sink.destination.ref !== undefined) dest.ref = { ...sink.destination.ref };
    if (sink.destination.uri !== undefined) dest.uri = sink.destination.uri;
    return dest;
  }
  return findFunction(ctx, "deadletter") ? { ref: ksvcRef("deadletter") } : undefined;
}
