/**
 * Event producers learn where to send from K_SINK, which a SinkBinding injects into the ksvc: the broker's
 * address. Producers are the channel adapters, the gateway, the agents, the deadletter function (replay) and the
 * memory service (the timers it fires).
 */
import type { FunctionSpec } from "../config/functions.ts";
import { brokerRef, functionLabels, ksvcRef, metadata, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

export function renderSinkBinding(ctx: RenderContext, fn: FunctionSpec): RenderedObject {
  return {
    apiVersion: "sources.knative.dev/v1",
    kind: "SinkBinding",
    metadata: metadata(ctx, `${fn.name}-sink`, functionLabels(ctx, fn)),
    spec: {
      subject: ksvcRef(fn.name),
      sink: { ref: brokerRef(ctx) },
    },
  };
}
