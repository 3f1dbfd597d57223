import { ProxyTracerProvider, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { instruments } from "../../runtime/metrics.ts";
import { inFunction } from "../../runtime/telemetry.ts";
import { activeCarrier, contextFrom, type TraceCarrier } from "../../runtime/trace-context.ts";
import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../catalog/attributes.ts";
import { type CloudEvent, withAttributes } from "../cloudevent/event.ts";
import type { DeliveryOutcome } from "../delivery/retry-loop.ts";

/**
 * The embedded broker's spans, as Knative's broker emits them: a `broker-ingress` span per event taken in and a
 * span per Trigger delivery (`trigger-<name>`, the filter's send, attempts and dead-lettering included), each the
 * parent of the next hop: the event goes on carrying the span that handled it. Under knclaw dev the deliveries are
 * exported as the `broker-filter` service, the ingress as `broker-ingress`. Without an SDK nothing changes.
 */
const tracer = trace.getTracer("knclaw-broker");

/**
 * No tracer provider is registered (no SDK: the default). Every span would then be a non-recording one that changes
 * nothing, and building it (its attributes, the parent context parsed from the event's traceparent, the noop context
 * plumbing) was a tenth of what the broker allocates per event; the hot path skips it. Asked per event, since an SDK
 * may be registered (or disabled, which replaces the global provider) at any time.
 */
function untraced(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegateTracer("knclaw-broker") === undefined;
}

interface BrokerName {
  namespace: string;
  name: string;
}

function carrierOf(event: CloudEvent): TraceCarrier {
  return { traceparent: event.attributes[EXT_TRACEPARENT], tracestate: event.attributes[EXT_TRACESTATE] };
}

function carried(event: CloudEvent, span: Span): CloudEvent {
  const carrier = activeCarrier(trace.setSpan(contextFrom({}), span));
  return carrier === undefined
    ? event
    : withAttributes(event, { [EXT_TRACEPARENT]: carrier.traceparent, [EXT_TRACESTATE]: carrier.tracestate });
}

function eventAttributes(event: CloudEvent) {
  return {
    "messaging.system": "knative",
    "cloudevents.event_id": event.attributes.id ?? "",
    "cloudevents.event_type": event.attributes.type ?? "",
    "cloudevents.event_source": event.attributes.source ?? "",
  };
}

/** Take an event in under a `broker-ingress` span; the result keeps its shape (a synchronous answer stays one). */
export function traceIngress<R extends { status: number }>(
  broker: BrokerName,
  event: CloudEvent,
  ingest: (event: CloudEvent) => R | Promise<R>,
): R | Promise<R> {
  if (untraced()) return ingest(event);
  const span = inFunction("broker-ingress", () =>
    tracer.startSpan(
      "broker-ingress",
      {
        kind: SpanKind.SERVER,
        attributes: {
          ...eventAttributes(event),
          "messaging.operation.type": "receive",
          "messaging.destination.name": `broker:${broker.name}.${broker.namespace}`,
        },
      },
      contextFrom(carrierOf(event)),
    ),
  );
  if (!span.isRecording()) {
    span.end();
    return ingest(event);
  }
  const end = (result: R): R => {
    span.setAttribute("http.response.status_code", result.status);
    if (result.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    return result;
  };
  try {
    const result = ingest(carried(event, span));
    return result instanceof Promise
      ? result.then(end, (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          throw error;
        })
      : end(result);
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    throw error;
  }
}

/** Deliver an event to a Trigger's subscriber under a `trigger-<name>` span, counted by outcome. */
export function traceDelivery(
  broker: BrokerName,
  trigger: string,
  event: CloudEvent,
  deliver: (event: CloudEvent) => Promise<DeliveryOutcome>,
): Promise<DeliveryOutcome> {
  if (untraced()) return deliver(event).then((outcome) => counted(broker, trigger, outcome));
  return inFunction("broker-filter", () =>
    tracer.startActiveSpan(
      `trigger-${trigger}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...eventAttributes(event),
          "messaging.operation.type": "send",
          "messaging.destination.name": `trigger:${trigger}.${broker.namespace}`,
          "knclaw.broker": `${broker.namespace}/${broker.name}`,
        },
      },
      contextFrom(carrierOf(event)),
      async (span) => {
        try {
          const outcome = counted(broker, trigger, await deliver(span.isRecording() ? carried(event, span) : event));
          span.setAttributes({ "knclaw.delivery.outcome": outcome.kind, "knclaw.delivery.attempts": outcome.attempts });
          if (outcome.status !== undefined) span.setAttribute("http.response.status_code", outcome.status);
          if (outcome.kind !== "delivered") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.kind });
          return outcome;
        } finally {
          span.end();
        }
      },
    ),
  );
}

/** Counts a finished delivery by its outcome (the metrics are kept whether or not spans are). */
function counted(broker: BrokerName, trigger: string, outcome: DeliveryOutcome): DeliveryOutcome {
  const metrics = instruments();
  const labels = { "knclaw.trigger": `${broker.namespace}/${trigger}` };
  metrics.brokerDeliveries.add(1, { ...labels, "knclaw.delivery.outcome": outcome.kind });
  if (outcome.kind === "dead-lettered") metrics.brokerDeadLetters.add(1, labels);
  return outcome;
}

/** Deliveries not yet finished, observed while the broker exists (`pending` answers nothing once it is gone). */
export function observeQueueDepth(broker: BrokerName, pending: () => number | undefined): void {
  const attributes = { "knclaw.broker": `${broker.namespace}/${broker.name}` };
  instruments().brokerQueueDepth.addCallback((result) => {
    const depth = pending();
    if (depth !== undefined) result.observe(depth, attributes);
  });
}

/** A delivery attempt past the first. */
export function countRetry(): void {
  instruments().brokerRetries.add(1);
}
