import type { EventSink } from "../client/broker-client.ts";
import type { EventSigner } from "./event-signature.ts";

/**
 * The one place a function's events are signed: every emit of its sink (the broker client, or what a test or
 * `knclaw dev` put in its place) goes out signed as the function's role. Signing is deterministic (Ed25519), so a
 * re-sent outbox entry carries the same signature as the first send.
 */
export function signingSink(sink: EventSink, signer: EventSigner): EventSink {
  return { emit: (event) => sink.emit(signer.sign(event)) };
}
