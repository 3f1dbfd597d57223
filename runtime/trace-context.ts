import {
  type Context,
  createTraceState,
  context as otelContext,
  type SpanContext,
  TraceFlags,
  trace,
} from "@opentelemetry/api";

/**
 * W3C trace context as knclaw carries it: the CloudEvents distributed-tracing extension (`traceparent`, `tracestate`)
 * on every event, and the `traceparent` header of a plain HTTP request. Parsing and formatting live here so that the
 * producers (eventing/client, the skill runtime's replies) and the consumers (the function runtime's routes) agree.
 */
export interface TraceCarrier {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The active context with the remote parent a W3C traceparent names, or with no span at all when there is none or it
 * is invalid (a new trace starts): a consumer's parent is what the event says, never a span that happens to be active
 * in this process (under knclaw dev the producer's call is still on the stack). Other context values are kept.
 */
export function contextFrom(carrier: TraceCarrier, base: Context = otelContext.active()): Context {
  const match = carrier.traceparent === undefined ? null : TRACEPARENT.exec(carrier.traceparent);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return trace.deleteSpan(base);
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(carrier.tracestate ? { traceState: createTraceState(carrier.tracestate) } : {}),
  };
  return trace.setSpanContext(base, spanContext);
}

/** The trace id a traceparent names, if it is well-formed. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent)?.[1];
}

/** The active span as a carrier, or nothing when no real span is active (no SDK, or outside any span). */
export function activeCarrier(active: Context = otelContext.active()): TraceCarrier | undefined {
  const spanContext = trace.getSpanContext(active);
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, "0");
  const tracestate = spanContext.traceState?.serialize();
  return {
    traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`,
    ...(tracestate ? { tracestate } : {}),
  };
}

/**
 * The trace context an outgoing event carries: the active span when it continues the event's own trace (or the event
 * has none), so each hop's parent is the span that sent it; the event's own context otherwise (a `/stop` that ends
 * several runs keeps each run in its own trace).
 */
export function outgoingCarrier(own: TraceCarrier): TraceCarrier {
  const active = activeCarrier();
  if (active === undefined) return own;
  const ownTrace = traceIdOf(own.traceparent);
  return ownTrace === undefined || ownTrace === traceIdOf(active.traceparent) ? active : own;
}
