import type { CloudEvent } from "../cloudevent/event.ts";
import { decodeMessageIfAny, type EventMode, encodeEvent } from "../cloudevent/http-codec.ts";
import { passThroughHeaders } from "./pass-through-headers.ts";
import { isRetryableStatus } from "./retry-policy.ts";
import { type Transport, TransportError } from "./transport.ts";

/**
 * One delivery attempt: encode, POST with the per-attempt timeout, classify the answer, decode a reply.
 * The rules are Knative's dispatcher's (pkg/kncloudevents/event_dispatcher.go, retries.go).
 */
export interface AttemptOptions {
  format: EventMode;
  /** Extra headers: pass-through headers from ingress, `Prefer: reply`, `Kn-Namespace`. */
  headers: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxResponseBytes: number;
}

export type AttemptResult =
  | {
      ok: true;
      status: number;
      reply?: CloudEvent;
      /** Pass-through headers of the response, carried with the reply into the broker (as Knative forwards them). */
      replyHeaders?: Record<string, string>;
    }
  | {
      ok: false;
      /** The HTTP status, or undefined when there was no response at all. */
      status: number | undefined;
      retryable: boolean;
      /** The response body (or a description of the failure) for the dead-letter `knativeerrordata`. */
      body: Uint8Array;
      reason: string;
    };

const utf8 = new TextEncoder();

export async function attemptDelivery(
  transport: Transport,
  url: string,
  event: CloudEvent,
  options: AttemptOptions,
): Promise<AttemptResult> {
  const encoded = encodeEvent(event, options.format);
  let response: Awaited<ReturnType<Transport>>;
  try {
    response = await transport({
      url,
      headers: Object.assign(encoded.headers, options.headers),
      body: encoded.body,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      maxResponseBytes: options.maxResponseBytes,
    });
  } catch (error) {
    const reason =
      error instanceof TransportError ? error.message : error instanceof Error ? error.message : String(error);
    // Knative records a failed dispatch as "dispatch error: ..." with no status; it is always worth a retry.
    return { ok: false, status: undefined, retryable: true, body: utf8.encode(`dispatch error: ${reason}`), reason };
  }
  const { status, headers, body } = response;
  if (status < 200 || status > 299) {
    return { ok: false, status, retryable: isRetryableStatus(status), body, reason: `HTTP ${status}` };
  }
  let reply: CloudEvent | undefined;
  try {
    reply = decodeMessageIfAny(headers, body);
  } catch (error) {
    return badReply(body, `reply is not a valid CloudEvent: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (reply === undefined) {
    // A 2xx with a non-empty body that is not a CloudEvent is a failure, retried: the broker filter handler answers
    // 502 for it (writeResponse in pkg/broker/filter/filter_handler.go). The newer shared dispatcher
    // (pkg/kncloudevents/event_dispatcher.go) discards such bodies instead; knclaw follows the filter
    // (docs/knative-semantics.md, "Delivery").
    if (body.byteLength > 0) return badReply(body, "non-empty response is not a CloudEvent");
    return { ok: true, status };
  }
  // The data-plane spec says a 202 must not be treated as a reply; Knative's dispatcher turns any 2xx that carries
  // an event into a reply, and knclaw follows the dispatcher so a Trigger behaves here as it does on a cluster.
  return { ok: true, status, reply, replyHeaders: passThroughHeaders(headers) };
}

function badReply(body: Uint8Array, reason: string): AttemptResult {
  return { ok: false, status: 502, retryable: true, body, reason };
}
