import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { encodeBinary } from "../../../../eventing/cloudevent/http-codec.ts";
import { signedRightly } from "../../../support/event-keys.ts";

/**
 * A binary-mode CloudEvent delivery, as the broker sends it to a subscriber: an event built unsigned goes out signed
 * by the producer the catalog expects (test/support/event-keys.ts); one already signed, or forged, as it is.
 */
export function deliveryRequest(url: string, event: CloudEvent): Request {
  return deliveryRequestAsIs(url, event.attributes.knclawsignature === undefined ? signedRightly(event) : event);
}

/** The delivery of exactly this event, unsigned if it is: what a forger posts. */
export function deliveryRequestAsIs(url: string, event: CloudEvent): Request {
  const { headers, body } = encodeBinary(event);
  return new Request(url, {
    method: "POST",
    headers: { ...headers, prefer: "reply" },
    body: body ? Buffer.from(body) : null,
  });
}
