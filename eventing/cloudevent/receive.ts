import type { Delivery } from "../../runtime/app.ts";
import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../catalog/attributes.ts";
import type { CloudEvent } from "./event.ts";
import { type DecodeOptions, decodeRequest } from "./http-codec.ts";

/** `maxBodyBytes`: the largest delivery this function reads (413 beyond it); Knative's ingress limit by default. */
export type ReceiveOptions = DecodeOptions;

/**
 * A function's broker deliveries as CloudEvents, for the function runtime's `POST /` (runtime/app.ts): each request
 * is decoded strictly (400 for anything that is not a valid CloudEvent, 413 past the size limit) before `handle`
 * sees it. The delivery's span continues the trace of the event's distributed-tracing extension and is named and
 * described by the CloudEvents semantic conventions.
 */
export function receiveCloudEvents(
  handle: Delivery<CloudEvent>["handle"],
  options: ReceiveOptions = {},
): Delivery<CloudEvent> {
  return {
    decode: (request) => decodeRequest(request, options),
    handle,
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
