import type { CloudEvent } from "../cloudevent/event.ts";
import { withErrorExtensions } from "./dead-letter.ts";
import type { DeliveryPolicy } from "./delivery-policy.ts";
import { type AttemptResult, attemptDelivery } from "./dispatcher.ts";
import { backoffDelayMs } from "./retry-policy.ts";
import type { Transport } from "./transport.ts";

/**
 * A delivery with Knative's retry semantics: attempts until success, a non-retryable failure or `retry + 1`
 * attempts, with the backoff of retry-policy.ts between them; then the dead-letter sink (same retry settings) with
 * the error extensions, or a drop when there is none.
 */

/** What the broker says about a reply it was handed; a refused reply fails the delivery that produced it. */
export type ReplyVerdict =
  | { accepted: true }
  | { accepted: false; status: number; retryable: boolean; reason: string; destination: string };

export interface DeliveryContext {
  /** Headers for the subscriber (`Prefer: reply` included); the dead-letter sink gets `deadLetterHeaders`. */
  headers: Record<string, string>;
  deadLetterHeaders: Record<string, string>;
  maxResponseBytes: number;
  /** Aborting stops the delivery where it is (shutdown deadline): no further attempts, no dead-lettering. */
  signal?: AbortSignal;
  onReply?: (reply: CloudEvent, headers: Record<string, string>) => ReplyVerdict;
  /** Called before each retry (attempt 2, 3, ...). */
  onRetry?: (attempt: number, previous: AttemptResult) => void;
  /** Attempts against the dead-letter sink also count as retries of the delivery. */
  onDeadLetterRetry?: (attempt: number, previous: AttemptResult) => void;
  /** Waits between attempts; resolves false when aborted. Tests record the backoff schedule through it. */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<boolean>;
}

export type DeliveryOutcome =
  | { kind: "delivered"; attempts: number; status: number }
  | { kind: "dead-lettered"; attempts: number; status: number | undefined; reason: string }
  | { kind: "dropped"; attempts: number; status: number | undefined; reason: string };

export async function deliverWithRetries(
  transport: Transport,
  url: string,
  event: CloudEvent,
  policy: DeliveryPolicy,
  context: DeliveryContext,
): Promise<DeliveryOutcome> {
  const run = await withRetries(
    transport,
    url,
    event,
    policy,
    context.headers,
    context,
    context.onRetry,
    context.onReply,
  );
  if (run.result.ok) return { kind: "delivered", attempts: run.attempts, status: run.result.status };
  const failure = run.result;
  if (run.aborted)
    return { kind: "dropped", attempts: run.attempts, status: failure.status, reason: `aborted: ${failure.reason}` };
  if (!policy.deadLetterSink) {
    return {
      kind: "dropped",
      attempts: run.attempts,
      status: failure.status,
      reason: `${failure.reason} (no dead-letter sink)`,
    };
  }
  const deadLettered = withErrorExtensions(event, {
    destination: run.destination,
    status: failure.status,
    body: failure.body,
  });
  const dls = await withRetries(
    transport,
    policy.deadLetterSink,
    deadLettered,
    policy,
    context.deadLetterHeaders,
    context,
    context.onDeadLetterRetry,
    undefined,
  );
  if (dls.result.ok)
    return { kind: "dead-lettered", attempts: run.attempts, status: failure.status, reason: failure.reason };
  return {
    kind: "dropped",
    attempts: run.attempts,
    status: failure.status,
    reason: `${failure.reason}; dead-letter sink failed too: ${dls.result.reason}`,
  };
}

interface RunResult {
  result: AttemptResult;
  attempts: number;
  aborted: boolean;
  /** Where the last failure happened: the target, or the broker when it refused the reply. */
  destination: string;
}

async function withRetries(
  transport: Transport,
  url: string,
  event: CloudEvent,
  policy: DeliveryPolicy,
  headers: Record<string, string>,
  context: DeliveryContext,
  onRetry: DeliveryContext["onRetry"],
  onReply: DeliveryContext["onReply"],
): Promise<RunResult> {
  let attempts = 0;
  let destination = url;
  for (;;) {
    attempts++;
    destination = url;
    let result = await attemptDelivery(transport, url, event, {
      format: policy.format,
      headers,
      timeoutMs: policy.timeoutMs,
      signal: context.signal,
      maxResponseBytes: context.maxResponseBytes,
    });
    if (result.ok && result.reply !== undefined && onReply) {
      const verdict = onReply(result.reply, result.replyHeaders ?? {});
      if (!verdict.accepted) {
        // The reply could not be enqueued: the delivery that produced it failed and is retried
        // (docs/knative-semantics.md, "Replies"). Knative's dispatcher retries only the reply's forwarding and names
        // the reply destination (the broker) in knativeerrordest when it dead-letters; the destination here follows it,
        // the retry the semantics.
        destination = verdict.destination;
        result = {
          ok: false,
          status: verdict.status,
          retryable: verdict.retryable,
          body: new TextEncoder().encode(verdict.reason),
          reason: `reply refused: ${verdict.reason}`,
        };
      }
    }
    if (result.ok) return { result, attempts, aborted: false, destination };
    if (context.signal?.aborted) return { result, attempts, aborted: true, destination };
    if (!result.retryable || attempts > policy.retry) return { result, attempts, aborted: false, destination };
    const wait = backoffDelayMs(policy.backoffPolicy, policy.backoffDelayMs, attempts);
    if (wait > 0 && !(await (context.sleep ?? sleep)(wait, context.signal)))
      return { result, attempts, aborted: true, destination };
    onRetry?.(attempts + 1, result);
  }
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
