import type { Delivery } from "../../runtime/app.ts";
import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../catalog/attributes.ts";
import type { EventTrust } from "../trust/event-trust.ts";
import type { CloudEvent } from "./event.ts";
import { type DecodeOptions, decodeRequest } from "./http-codec.ts";

/**
 * `maxBodyBytes`: the largest delivery this function reads (413 beyond it); Knative's ingress limit by default.
 * `trust`: what an event must prove before the function acts on it (eventing/trust/event-trust.ts): every consumer
 * verifies its producer's signature; only the dead-letter sink keeps events as delivered.
 */
export interface ReceiveOptions extends DecodeOptions {
  trust: EventTrust;
}

/**
 * A function's broker deliveries as CloudEvents, for the function runtime's `POST /` (runtime/app.ts): each request
 * is decoded strictly (400 for anything that is not a valid CloudEvent, 413 past the size limit) before `handle`
 * sees it, and then must pass the function's trust check (a 403 otherwise: not retried, nothing handled). The
 * delivery's span continues the trace of the event's distributed-tracing extension and is named and
 * described by the CloudEvents semantic conventions.
 */
export function receiveCloudEvents(
  handle: Delivery<CloudEvent>["handle"],
  options: ReceiveOptions,
): Delivery<CloudEvent> {
  const { trust, ...decoding } = options;
  return {
    decode: (request) => decodeRequest(request, decoding),
    // Inside the delivery's span, so a refused event is traced like any other answer.
    handle: (event, request) => {
      trust.check(event);
      return handle(event, request);
    },
    traced: (event) => ({
      carrier: { traceparent: event.attributes[EXT_TRACEPARENT], tracestate: event.attributes[EXT_TRACESTATE] },
      name: `process ${event.attributes.type}`,
      attributes: {
        "messaging.system": "knative",
        "messaging.operation.type": "process",
        "cloudevents.event_id": event.attributes.id!,
        "cloudevents.event_type": event.attributes.type!,
        "cloudevents.event_source": event.attributes.source!,
        ...(event.attributes.subject ? { "cloudevents.event_subject": event.attributes.subject } : {}),
      },
    }),
  };
}
