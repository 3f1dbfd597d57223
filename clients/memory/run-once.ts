import { randomUUID } from "node:crypto";
import { ApiError } from "../../runtime/api-error.ts";
import type { KeyValueState } from "./key-value.ts";

/**
 * Do a piece of work at most once per key across all replicas, and remember its result: the building block of
 * inbound de-duplication (a platform's retry of a delivery already emitted) and outbound idempotency (a redelivered
 * message.send already posted).
 *
 * A key is first claimed with a short lease, then marked done with the work's result once the work succeeded. A
 * failure releases the claim so the next retry does the work. A crash between claim and done leaves the lease to
 * expire, after which a retry does the work; a crash between the work and the done mark can repeat the work once,
 * which is why inbound events carry deterministic ids (consumers de-duplicate on them too).
 */
export interface OnceOptions {
  /** How long a claim blocks other attempts while the work runs. */
  leaseSeconds: number;
  /** How long the result is remembered: at least as long as the platform keeps retrying. */
  keepSeconds: number;
}

export type OnceResult<T> = { fresh: true; value: T; recorded: string } | { fresh: false; recorded: string };

/**
 * Another attempt holds the claim right now. As a broker delivery's answer it is a 409, which Knative's dispatcher
 * retries: the other attempt will have finished by then.
 */
export class InFlightError extends ApiError {
  readonly key: string;
  constructor(key: string) {
    super(409, "in_flight", "the same delivery is being processed by another attempt");
    this.name = "InFlightError";
    this.key = key;
  }
}

const DONE = "done:";
const INFLIGHT = "inflight:";

export async function runOnce<T>(
  kv: KeyValueState,
  key: string,
  options: OnceOptions,
  work: () => Promise<T>,
  record: (value: T) => string = () => "",
): Promise<OnceResult<T>> {
  const claim = `${INFLIGHT}${randomUUID()}`;
  const existing = await claimOrRead(kv, key, claim, options.leaseSeconds);
  if (existing !== undefined) {
    if (existing.startsWith(DONE)) return { fresh: false, recorded: existing.slice(DONE.length) };
    throw new InFlightError(key);
  }
  let value: T;
  try {
    value = await work();
  } catch (error) {
    await releaseIfOurs(kv, key, claim);
    throw error;
  }
  const recorded = record(value);
  await kv.set(key, `${DONE}${recorded}`, options.keepSeconds);
  return { fresh: true, value, recorded };
}

/** Read what is recorded for a key without claiming it: the result when done, undefined otherwise. */
export async function recallOnce(kv: KeyValueState, key: string): Promise<string | undefined> {
  const value = await kv.get(key);
  return value?.startsWith(DONE) ? value.slice(DONE.length) : undefined;
}

/** Undefined when our claim was stored; otherwise the value that holds the key. */
async function claimOrRead(kv: KeyValueState, key: string, claim: string, leaseSeconds: number) {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await kv.setIfAbsent(key, claim, leaseSeconds)) return undefined;
    const current = await kv.get(key);
    // The holder's lease may expire between the two calls: then try to claim again.
    if (current !== undefined) return current;
  }
  throw new InFlightError(key);
}

async function releaseIfOurs(kv: KeyValueState, key: string, claim: string): Promise<void> {
  try {
    if ((await kv.get(key)) === claim) await kv.delete(key);
  } catch {
    // The lease expires on its own; a failed release only delays the next retry.
  }
}
