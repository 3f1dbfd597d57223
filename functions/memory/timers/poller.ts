import { derivedEventId, makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import type { Logger } from "../../../runtime/log.ts";
import type { StoredTimer, TimerStore } from "./store.ts";

/**
 * Fires due timers (ARCHITECTURE.md, "Deadlines"): every `pollMs` it claims the timers due by the service's clock,
 * emits each one's `dev.knclaw.timer.fired` to the broker and only then removes it. Claim -> emit -> remove makes a
 * timer fire at least once per due time: an emit that fails, or a crash before the removal, leaves the claim to run
 * out and the timer to fire again, under the same event id (derived from the timer and its due time), which the woken
 * function de-duplicates. Replicas polling the same store fire each timer once: a claim hides it from the others.
 */
export interface TimerPollerOptions {
  store: TimerStore;
  /** Resolves once the broker accepted the event. */
  emit(event: CloudEvent): Promise<void>;
  now(): number;
  pollMs: number;
  log: Logger;
}

/** Longer than an emit can take with its retries, so a healthy poller never sees its own claim run out. */
export const CLAIM_LEASE_MS = 60_000;
/** Timers claimed at once; a full batch is followed by the next at once. */
const BATCH = 100;
/** Emits in flight at once. */
const CONCURRENCY = 16;

export class TimerPoller {
  readonly #options: TimerPollerOptions;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<number> | undefined;
  #stopped = false;
  #storeDown = false;

  constructor(options: TimerPollerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  /** Stops polling; resolves once a poll in progress has finished (its emits included). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling?.catch(() => undefined);
  }

  /** Fires every timer due now (one poll at a time: a call during a poll waits for it, then polls again). */
  async poll(): Promise<number> {
    while (this.#polling !== undefined) await this.#polling.catch(() => undefined);
    this.#polling = this.#fireDue();
    try {
      return await this.#polling;
    } finally {
      this.#polling = undefined;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.poll()
        .then(() => {
          if (!this.#storeDown) return;
          this.#storeDown = false;
          this.#options.log.info("timers: the store answers again");
        })
        .catch((error: unknown) => {
          if (this.#storeDown) return;
          this.#storeDown = true;
          this.#options.log.warn({ err: (error as Error).name }, "timers: cannot read due timers; retrying each poll");
        })
        .finally(() => this.#schedule());
    }, this.#options.pollMs);
    this.#timer.unref();
  }

  async #fireDue(): Promise<number> {
    const { store, now } = this.#options;
    let fired = 0;
    for (;;) {
      const at = now();
      const claimed = await store.claimDue(at, at + CLAIM_LEASE_MS, BATCH);
      let next = 0;
      const worker = async () => {
        while (next < claimed.length) {
          const claim = claimed[next++]!;
          if (await this.#fire(claim.timer, at)) {
            fired += 1;
            // A failure here only means the timer fires once more when its claim runs out.
            await store.fired(claim).catch((error: unknown) => this.#failed(claim.timer, "remove", error));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, claimed.length) }, worker));
      if (claimed.length < BATCH) return fired;
    }
  }

  async #fire(timer: StoredTimer, at: number): Promise<boolean> {
    try {
      await this.#options.emit(timerFiredEvent(timer, at));
      return true;
    } catch (error) {
      this.#failed(timer, "emit", error);
      return false;
    }
  }

  #failed(timer: StoredTimer, step: string, error: unknown): void {
    this.#options.log.warn(
      { instance: timer.instance, target: timer.target, kind: timer.kind, err: (error as Error).name },
      `timer ${step} failed: it fires again in ${CLAIM_LEASE_MS / 1000} s`,
    );
  }
}

/** The event a timer fires with: its id the same for every firing of this due time. */
function timerFiredEvent(timer: StoredTimer, at: number): CloudEvent {
  const { instance, target, kind, id, dueAt } = timer;
  return makeEvent(T.TIMER_FIRED, {
    id: derivedEventId("timer", target, instance, kind, id, dueAt),
    source: "/knclaw/memory",
    time: new Date(at),
    data: {
      instance,
      target,
      kind,
      id,
      dueAt: new Date(dueAt).toISOString(),
      ...(timer.data !== undefined ? { data: timer.data as Record<string, never> } : {}),
    },
    extensions: { traceparent: timer.traceparent, tracestate: timer.tracestate },
  });
}
