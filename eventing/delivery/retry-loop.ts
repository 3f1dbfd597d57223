import { type AbortWatcher, unwatchAbort, watchAbort } from "../../runtime/abort-watch.ts";
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
  /** May be asynchronous: a durable broker answers once the reply is stored, before this delivery is acknowledged. */
  onReply?: (reply: CloudEvent, headers: Record<string, string>) => ReplyVerdict | Promise<ReplyVerdict>;
  /** Where a delivery interrupted by a crash left off (from the delivery journal): it goes on from there. */
  resume?: DeliveryProgress;
  /**
   * Called, and awaited, before each wait for a retry and when the delivery moves on to the dead-letter sink, so a
   * durable broker stores the retry state first: a restart then resumes with the same attempt count and due time.
   */
  onProgress?: (progress: DeliveryProgress) => void | Promise<void>;
  /** Called before each retry (attempt 2, 3, ...). */
  onRetry?: (attempt: number, previous: AttemptResult) => void;
  /** Attempts against the dead-letter sink also count as retries of the delivery. */
  onDeadLetterRetry?: (attempt: number, previous: AttemptResult) => void;
  /** Waits between attempts; resolves false when aborted. Tests record the backoff schedule through it. */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<boolean>;
  /** The subscriber's OIDC audience; the dead-letter sink's is the policy's `deadLetterSinkAudience`. */
  audience?: string;
  /**
   * The sender's OIDC token for an audience, asked for at every attempt to a target that has one and sent as
   * `Authorization: Bearer`, as Knative's dispatcher does (pkg/kncloudevents/event_dispatcher.go, createRequest). A
   * target without an audience gets no token, as there.
   */
  tokenFor?: (audience: string) => string | Promise<string>;
}

/** The retry state of a delivery between two attempts. */
export interface DeliveryProgress {
  /** Attempts already made against the current target: the subscriber, or the dead-letter sink once `deadLetter` is set. */
  attempts: number;
  /** When the next attempt is due (epoch milliseconds). */
  dueAt: number;
  /** The subscriber's final failure, once the delivery has moved on to the dead-letter sink. */
  deadLetter?: DeadLetterState;
}

interface DeadLetterState {
  /** Attempts made against the subscriber. */
  attempts: number;
  destination: string;
  status: number | undefined;
  /** The last response body, base64: the dead-lettered event's `knativeerrordata` is made from it. */
  body: string;
  reason: string;
}

export type DeliveryOutcome =
  | { kind: "delivered"; attempts: number; status: number }
  | { kind: "dead-lettered"; attempts: number; status: number | undefined; reason: string }
  /** `aborted`: cut by the shutdown deadline, not failed: a durable broker keeps it for the next start. */
  | { kind: "dropped"; attempts: number; status: number | undefined; reason: string; aborted?: true };

export async function deliverWithRetries(
  transport: Transport,
  url: string,
  event: CloudEvent,
  policy: DeliveryPolicy,
  context: DeliveryContext,
): Promise<DeliveryOutcome> {
  const resume = context.resume;
  const onProgress = context.onProgress;
  let failed: DeadLetterState;
  let failedBody: Uint8Array;
  if (resume?.deadLetter) {
    failed = resume.deadLetter;
    failedBody = Buffer.from(failed.body, "base64");
  } else {
    const run = await withRetries(
      transport,
      url,
      context.audience,
      event,
      policy,
      context.headers,
      context,
      context.onRetry,
      context.onReply,
      resume,
      onProgress && ((attempts, dueAt) => onProgress({ attempts, dueAt })),
    );
    if (run.result.ok) return { kind: "delivered", attempts: run.attempts, status: run.result.status };
    const failure = run.result;
    if (run.aborted)
      return {
        kind: "dropped",
        attempts: run.attempts,
        status: failure.status,
        reason: `aborted: ${failure.reason}`,
        aborted: true,
      };
    if (!policy.deadLetterSink) {
      return {
        kind: "dropped",
        attempts: run.attempts,
        status: failure.status,
        reason: `${failure.reason} (no dead-letter sink)`,
      };
    }
    failedBody = failure.body;
    failed = {
      attempts: run.attempts,
      destination: run.destination,
      status: failure.status,
      body: onProgress ? Buffer.from(failure.body).toString("base64") : "",
      reason: failure.reason,
    };
    // Stored before the first dead-letter attempt, so a restart does not try the subscriber all over again.
    if (onProgress) await onProgress({ attempts: 0, dueAt: Date.now(), deadLetter: failed });
  }
  if (!policy.deadLetterSink) {
    // Resumed at the dead-letter stage, but the Trigger no longer names a sink.
    return {
      kind: "dropped",
      attempts: failed.attempts,
      status: failed.status,
      reason: `${failed.reason} (no dead-letter sink)`,
    };
  }
  const deadLettered = withErrorExtensions(event, {
    destination: failed.destination,
    status: failed.status,
    body: failedBody,
  });
  const dls = await withRetries(
    transport,
    policy.deadLetterSink,
    policy.deadLetterSinkAudience,
    deadLettered,
    policy,
    context.deadLetterHeaders,
    context,
    context.onDeadLetterRetry,
    undefined,
    resume?.deadLetter ? resume : undefined,
    onProgress && ((attempts, dueAt) => onProgress({ attempts, dueAt, deadLetter: failed })),
  );
  if (dls.result.ok)
    return { kind: "dead-lettered", attempts: failed.attempts, status: failed.status, reason: failed.reason };
  if (dls.aborted)
    return {
      kind: "dropped",
      attempts: failed.attempts,
      status: failed.status,
      reason: `aborted while dead-lettering: ${dls.result.reason}`,
      aborted: true,
    };
  return {
    kind: "dropped",
    attempts: failed.attempts,
    status: failed.status,
    reason: `${failed.reason}; dead-letter sink failed too: ${dls.result.reason}`,
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
  audience: string | undefined,
  event: CloudEvent,
  policy: DeliveryPolicy,
  headers: Record<string, string>,
  context: DeliveryContext,
  onRetry: DeliveryContext["onRetry"],
  onReply: DeliveryContext["onReply"],
  resume: Pick<DeliveryProgress, "attempts" | "dueAt"> | undefined,
  onProgress: ((attempts: number, dueAt: number) => void | Promise<void>) | undefined,
): Promise<RunResult> {
  let attempts = 0;
  let destination = url;
  if (resume) {
    // Resumed after a restart: the attempts made before count, and the wait that was running goes on to its due time.
    attempts = resume.attempts;
    const wait = resume.dueAt - Date.now();
    if (wait > 0 && !(await (context.sleep ?? sleep)(wait, context.signal))) {
      const reason = "shut down before the resumed attempt";
      return { result: noAttempt(reason), attempts, aborted: true, destination };
    }
    if (attempts > 0) onRetry?.(attempts + 1, noAttempt("resumed after a restart"));
  }
  for (;;) {
    attempts++;
    destination = url;
    const authorized =
      audience !== undefined && context.tokenFor ? await withToken(headers, audience, context.tokenFor) : headers;
    let result =
      typeof authorized === "string"
        ? // No token, no request: a failed dispatch as Knative counts one ("could not get JWT"), retried.
          noAttempt(authorized)
        : await attemptDelivery(transport, url, event, {
            format: policy.format,
            headers: authorized,
            timeoutMs: policy.timeoutMs,
            signal: context.signal,
            maxResponseBytes: context.maxResponseBytes,
          });
    if (result.ok && result.reply !== undefined && onReply) {
      const verdict = await onReply(result.reply, result.replyHeaders ?? {});
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
    if (onProgress) await onProgress(attempts, Date.now() + wait);
    if (wait > 0 && !(await (context.sleep ?? sleep)(wait, context.signal)))
      return { result, attempts, aborted: true, destination };
    onRetry?.(attempts + 1, result);
  }
}

/** The attempt's headers with the token for `audience`, or why no token could be had. */
async function withToken(
  headers: Record<string, string>,
  audience: string,
  tokenFor: NonNullable<DeliveryContext["tokenFor"]>,
): Promise<Record<string, string> | string> {
  try {
    return { ...headers, authorization: `Bearer ${await tokenFor(audience)}` };
  } catch (error) {
    return `could not get a token: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function noAttempt(reason: string): AttemptResult {
  return { ok: false, status: undefined, retryable: true, body: new TextEncoder().encode(reason), reason };
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => new Backoff(ms, signal, resolve));
}

/** One wait between attempts. It watches the broker's shared signal (runtime/abort-watch.ts says why). */
class Backoff implements AbortWatcher {
  private readonly signal: AbortSignal | undefined;
  private readonly resolve: (elapsed: boolean) => void;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, signal: AbortSignal | undefined, resolve: (elapsed: boolean) => void) {
    this.signal = signal;
    this.resolve = resolve;
    this.timer = setTimeout(backoffElapsed, ms, this);
    if (signal) watchAbort(signal, this);
  }

  aborted(): void {
    clearTimeout(this.timer);
    this.resolve(false);
  }

  elapsed(): void {
    if (this.signal) unwatchAbort(this.signal, this);
    this.resolve(true);
  }
}

function backoffElapsed(backoff: Backoff): void {
  backoff.elapsed();
}
