import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { encodeBinary } from "../../../../eventing/cloudevent/http-codec.ts";

/** A binary-mode CloudEvent delivery, as the broker sends it to a subscriber. */
export function deliveryRequest(url: string, event: CloudEvent): Request {
  const { headers, body } = encodeBinary(event);
  return new Request(url, {
    method: "POST",
    headers: { ...headers, prefer: "reply" },
    body: body ? Buffer.from(body) : null,
  });
}
