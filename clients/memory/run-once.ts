import { randomUUID } from "node:crypto";
import { ApiError } from "../../runtime/api-error.ts";
import type { KeyValueState } from "./key-value.ts";

/**
 * Do a piece of work at most once per key across all replicas, and remember its result: the building block of
 * inbound de-duplication (a platform's retry of a delivery already emitted) and outbound idempotency (a redelivered
 * message.send already posted).
 *
 * A key is first claimed with a short lease, renewed while the work runs, then marked done with the work's result
 * once the work succeeded. A failure releases the claim so the next retry does the work. A holder that dies (a crash,
 * a kill -9) stops renewing, so its claim blocks other attempts for at most one lease, after which a retry does the
 * work; a crash between the work and the done mark can repeat the work once, which is why inbound events carry
 * deterministic ids (consumers de-duplicate on them too).
 *
 * When the store itself fails (Redis down) after the work, the claim can be neither released nor marked done. This
 * process remembers such claims, so its next attempt at the key settles it at once (marks it done with the result it
 * already has, or takes the claim over after a failed work) instead of answering "in flight" until the lease runs out:
 * a broker's redeliveries would otherwise all be refused while the lease lasts.
 */
export interface OnceOptions {
  /**
   * How long a claim blocks other attempts unless renewed; the holder renews it every third of this while the work
   * runs. Keep it within the broker's retry window, so a redelivery after a holder's crash finds the claim expired.
   */
  leaseSeconds: number;
  /** How long the result is remembered: at least as long as the platform keeps retrying. */
  keepSeconds: number;
}

/**
 * The lease every caller uses: it runs out within Knative's default retry window (5 retries, exponential from 0.5 s,
 * about 15 s), so a crashed holder's redeliveries find the key free; a long work keeps its claim by renewing it.
 */
export const LEASE_SECONDS = 10;

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

/** A claim of this process the store failed to settle: released after a failed work, or done with `recorded`. */
interface Unsettled {
  claim: string;
  recorded?: string;
}

/** Per store, the keys this process left claimed (bounded: the oldest are forgotten, their leases expire anyway). */
const unsettledByStore = new WeakMap<KeyValueState, Map<string, Unsettled>>();
const MAX_UNSETTLED = 10_000;

function unsettledOf(kv: KeyValueState): Map<string, Unsettled> {
  let unsettled = unsettledByStore.get(kv);
  if (unsettled === undefined) {
    unsettled = new Map();
    unsettledByStore.set(kv, unsettled);
  }
  return unsettled;
}

function remember(kv: KeyValueState, key: string, entry: Unsettled): void {
  const unsettled = unsettledOf(kv);
  unsettled.delete(key);
  unsettled.set(key, entry);
  if (unsettled.size > MAX_UNSETTLED) unsettled.delete(unsettled.keys().next().value!);
}

export async function runOnce<T>(
  kv: KeyValueState,
  key: string,
  options: OnceOptions,
  work: () => Promise<T>,
  record: (value: T) => string = () => "",
): Promise<OnceResult<T>> {
  let claim = `${INFLIGHT}${randomUUID()}`;
  const existing = await claimOrRead(kv, key, claim, options.leaseSeconds);
  if (existing !== undefined) {
    if (existing.startsWith(DONE)) {
      unsettledByStore.get(kv)?.delete(key);
      return { fresh: false, recorded: existing.slice(DONE.length) };
    }
    const ours = unsettledByStore.get(kv)?.get(key);
    if (ours === undefined || ours.claim !== existing) throw new InFlightError(key);
    // Taken out before the first await: a concurrent attempt in this process finds it gone and waits its turn.
    unsettledOf(kv).delete(key);
    if (ours.recorded !== undefined) {
      await markDone(kv, key, ours, options.keepSeconds);
      return { fresh: false, recorded: ours.recorded };
    }
    claim = ours.claim;
    try {
      await kv.set(key, claim, options.leaseSeconds);
    } catch (error) {
      remember(kv, key, ours);
      throw error;
    }
  }
  let value: T;
  const renewal = keepClaimed(kv, key, claim, options.leaseSeconds);
  try {
    value = await work();
  } catch (error) {
    clearInterval(renewal);
    await releaseIfOurs(kv, key, claim);
    throw error;
  }
  clearInterval(renewal);
  const recorded = record(value);
  await markDone(kv, key, { claim, recorded }, options.keepSeconds);
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

/** Renews the claim while the work runs; a renewal that finds another value (the lease ran out) stops. */
function keepClaimed(kv: KeyValueState, key: string, claim: string, leaseSeconds: number): NodeJS.Timeout {
  const timer = setInterval(
    () => {
      kv.get(key)
        .then((current) => (current === claim ? kv.set(key, claim, leaseSeconds) : clearInterval(timer)))
        .catch(() => undefined);
    },
    (leaseSeconds * 1000) / 3,
  );
  timer.unref();
  return timer;
}

async function markDone(kv: KeyValueState, key: string, entry: Unsettled, keepSeconds: number): Promise<void> {
  try {
    await kv.set(key, `${DONE}${entry.recorded}`, keepSeconds);
  } catch (error) {
    remember(kv, key, entry);
    throw error;
  }
}

async function releaseIfOurs(kv: KeyValueState, key: string, claim: string): Promise<void> {
  try {
    if ((await kv.get(key)) === claim) await kv.delete(key);
  } catch {
    // Remembered: this process' next attempt takes the claim over; others wait out the lease.
    remember(kv, key, { claim });
  }
}
