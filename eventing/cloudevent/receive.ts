import type { Delivery } from "../../runtime/app.ts";
import type { CloudEvent } from "./event.ts";
import { type DecodeOptions, decodeRequest } from "./http-codec.ts";

/** `maxBodyBytes`: the largest delivery this function reads (413 beyond it); Knative's ingress limit by default. */
export type ReceiveOptions = DecodeOptions;

/**
 * A function's broker deliveries as CloudEvents, for the function runtime's `POST /` (runtime/app.ts): each request
 * is decoded strictly (400 for anything that is not a valid CloudEvent, 413 past the size limit) before `handle`
 * sees it.
 */
export function receiveCloudEvents(
  handle: Delivery<CloudEvent>["handle"],
  options: ReceiveOptions = {},
): Delivery<CloudEvent> {
  return {
    decode: (request) => decodeRequest(request, options),
    handle,
  };
}
