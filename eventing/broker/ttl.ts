import type { CloudEvent } from "../cloudevent/event.ts";
import { withAttributes } from "../cloudevent/event.ts";

/**
 * The broker TTL (pkg/broker/ttl.go and the ingress TTLDefaulter): how many more passes through a broker an event
 * may make, so reply loops end.
 *
 * On every pass through ingress: absent (or not an integer) -> 255; present -> decremented by one, floor 0. The
 * ingress then refuses (400) an event whose TTL is 0 or less. As implemented, the check runs after the decrement,
 * so an event arriving with TTL 1 is refused: docs/knative-semantics.md ("Ingress") says so.
 * The extension is removed before delivery to a subscriber and put back (with the value the delivered event had)
 * on that subscriber's reply, which the next ingress pass decrements again.
 */
export const TTL_EXTENSION = "knativebrokerttl";
export const DEFAULT_TTL = 255;

/** The TTL an event has after this pass through ingress; the ingress refuses it when this is 0 or less. */
export function ingressTtl(event: CloudEvent): number {
  const raw = event.attributes[TTL_EXTENSION];
  if (raw === undefined || !/^\s*-?\d+\s*$/.test(raw)) return DEFAULT_TTL;
  return Math.max(0, Number(raw.trim()) - 1);
}

export function withTtl(event: CloudEvent, ttl: number): CloudEvent {
  return withAttributes(event, { [TTL_EXTENSION]: String(ttl) });
}
