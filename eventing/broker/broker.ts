import { type CloudEvent, withAttributes } from "../cloudevent/event.ts";
import type { DeliveryPolicy } from "../delivery/delivery-policy.ts";
import { type DeliveryOutcome, deliverWithRetries, type ReplyVerdict } from "../delivery/retry-loop.ts";
import type { Transport } from "../delivery/transport.ts";
import { type BrokerCounters, emptyCounters } from "./counters.ts";
import type { DeliveryJournal, StoredDelivery } from "./journal/journal.ts";
import { type Log, silentLog } from "./log.ts";
import type { BrokerAdmission } from "./oidc/admission.ts";
import { Semaphore } from "./semaphore.ts";
import { countRetry, observeQueueDepth, traceDelivery, traceIngress } from "./tracing.ts";
import { type CompiledTrigger, triggerKey } from "./trigger.ts";
import { ingressTtl, TTL_EXTENSION, withTtl } from "./ttl.ts";

/** Knative's broker stamps every pass through ingress with the arrival time. */
const EXT_ARRIVAL_TIME = "knativearrivaltime";

export interface EmbeddedBrokerOptions {
  namespace: string;
  name: string;
  /** The Broker's own `spec.delivery`, already read; Triggers without one inherit it. */
  delivery?: DeliveryPolicy;
  transport: Transport;
  /** The address replies are "sent" to; named in `knativeerrordest` when the broker refuses a reply. */
  address: string;
  /**
   * Bound on deliveries not yet finished (queued, in flight or waiting for a retry). A new event whose deliveries
   * would exceed it is refused with 429 instead of growing memory without bound.
   */
  maxPendingDeliveries?: number;
  /** Bound on the bytes those deliveries hold (event data is counted once per delivery). */
  maxPendingBytes?: number;
  /** HTTP attempts in flight at once; more wait their turn (Knative keeps 100 idle connections per host). */
  maxConcurrentAttempts?: number;
  maxResponseBytes: number;
  log?: Log;
  /**
   * Where accepted deliveries are stored before the 202 and until they are finished (journal/journal.ts). Without
   * one, deliveries live in memory only: the fast path, lost when the process dies.
   */
  journal?: DeliveryJournal;
  /**
   * OIDC tokens for deliveries (oidc/issuer.ts): each delivery to a subscriber or dead-letter sink with an audience
   * carries a token issued to the Trigger's identity for that audience. Without it deliveries carry no token.
   */
  tokens?: (subject: string, audience: string) => string | Promise<string>;
  /** Who may post to this Broker (oidc/admission.ts): checked by the ingress, and for replies here. */
  admission?: BrokerAdmission;
}

let arrivalMs = 0;
let arrivalIso = "";

/** The arrival timestamp, formatted once per millisecond: under load many events arrive within one. */
function arrivalTime(): string {
  const now = Date.now();
  if (now !== arrivalMs) {
    arrivalMs = now;
    arrivalIso = new Date(now).toISOString();
  }
  return arrivalIso;
}

/** `unmatched`: accepted, but no Trigger wanted it (Knative drops it). */
export type IngestResult = { status: 202; unmatched?: true } | { status: 400 | 429 | 503; reason: string };

const EVENT_OVERHEAD_BYTES = 1024;

/**
 * One Knative Broker: takes events in (TTL, arrival time), matches them against its Triggers and delivers each
 * match asynchronously with the Trigger's delivery settings; replies come back in as new arrivals.
 */
export class EmbeddedBroker {
  readonly namespace: string;
  readonly name: string;
  readonly delivery: DeliveryPolicy | undefined;
  readonly counters: BrokerCounters = emptyCounters();
  readonly admission: BrokerAdmission | undefined;
  private readonly tokens: EmbeddedBrokerOptions["tokens"];
  /** Per Trigger, how its deliveries get their tokens (as the Trigger's identity). */
  private tokenFor = new Map<string, (audience: string) => string | Promise<string>>();
  private triggers: CompiledTrigger[] = [];
  private triggersByName = new Map<string, CompiledTrigger>();
  private readonly journal: DeliveryJournal | undefined;
  private readonly transport: Transport;
  private readonly address: string;
  private readonly maxPendingDeliveries: number;
  private readonly maxPendingBytes: number;
  private readonly maxResponseBytes: number;
  private readonly log: Log;
  /**
   * Aborted at the drain deadline; every delivery in flight shares its signal. What waits on it (an HTTP attempt, a
   * backoff) watches it (runtime/abort-watch.ts) instead of adding a listener each.
   */
  private readonly shutdown = new AbortController();
  /** Deliveries running now (started, not finished). */
  private running = 0;
  private pendingDeliveries = 0;
  private pendingBytes = 0;
  private idleWaiters: Array<() => void> = [];
  private runningWaiters: Array<() => void> = [];
  private closed = false;

  constructor(options: EmbeddedBrokerOptions) {
    this.namespace = options.namespace;
    this.name = options.name;
    // Observed through a weak reference: the metric must not keep a stopped broker alive.
    const self = new WeakRef(this);
    observeQueueDepth(this, () => self.deref()?.pendingDeliveries);
    this.delivery = options.delivery;
    this.address = options.address;
    this.maxPendingDeliveries = options.maxPendingDeliveries ?? 10_000;
    this.maxPendingBytes = options.maxPendingBytes ?? 256 * 1024 * 1024;
    this.maxResponseBytes = options.maxResponseBytes;
    this.log = options.log ?? silentLog;
    this.journal = options.journal;
    this.tokens = options.tokens;
    this.admission = options.admission;
    const semaphore = new Semaphore(options.maxConcurrentAttempts ?? 256);
    const transport = options.transport;
    // Plain promise chains, not async wrappers: this runs once per attempt.
    const run = (request: Parameters<Transport>[0]): ReturnType<Transport> => {
      let pending: ReturnType<Transport>;
      try {
        pending = transport(request);
      } catch (error) {
        semaphore.release();
        return Promise.reject(error);
      }
      return pending.then(
        (response) => {
          semaphore.release();
          return response;
        },
        (error: unknown) => {
          semaphore.release();
          throw error;
        },
      );
    };
    this.transport = (request) => {
      const wait = semaphore.acquire();
      return wait ? wait.then(() => run(request)) : run(request);
    };
  }

  setTriggers(triggers: CompiledTrigger[]): void {
    this.triggers = triggers.filter((t) => t.brokerNamespace === this.namespace && t.broker === this.name);
    this.triggersByName = new Map(this.triggers.map((trigger) => [triggerKey(trigger), trigger]));
    const tokens = this.tokens;
    this.tokenFor = new Map(
      tokens === undefined
        ? []
        : this.triggers.map((trigger) => [
            triggerKey(trigger),
            (audience: string) => tokens(trigger.identity, audience),
          ]),
    );
  }

  /** With a journal: resume every delivery stored before this start, then run new ones as they are stored. */
  async start(): Promise<void> {
    await this.journal?.start(this.dispatchStored, () =>
      Math.max(0, this.maxPendingDeliveries - this.pendingDeliveries),
    );
  }

  get durable(): boolean {
    return this.journal !== undefined;
  }

  getTriggers(): readonly CompiledTrigger[] {
    return this.triggers;
  }

  get pending(): number {
    return this.pendingDeliveries;
  }

  /**
   * Take one validated event in, as ingress does: TTL, arrival time, Trigger matching, then one asynchronous
   * delivery per matching Trigger. Returns once the deliveries are queued (the ingress then answers 202); with a
   * journal, once they are stored.
   */
  ingest(incoming: CloudEvent, passThrough: Record<string, string>): IngestResult | Promise<IngestResult> {
    if (this.closed) {
      this.counters.rejected++;
      return { status: 503, reason: "the broker is shutting down" };
    }
    const ttl = ingressTtl(incoming);
    if (ttl <= 0) {
      this.counters.rejected++;
      return { status: 400, reason: "knativebrokerttl exhausted: the event has passed through brokers too many times" };
    }
    // The TTL travels beside the event, not in it: subscribers never see it, and filters are evaluated on the event
    // exactly as it will be delivered. It is put back on replies (ingestReply).
    const event = withAttributes(incoming, { [TTL_EXTENSION]: undefined, [EXT_ARRIVAL_TIME]: arrivalTime() });
    const matches: CompiledTrigger[] = [];
    for (const trigger of this.triggers) {
      if (trigger.filter(event.attributes)) matches.push(trigger);
    }
    if (matches.length === 0) {
      this.counters.accepted++;
      this.counters.unmatched++;
      return { status: 202, unmatched: true };
    }
    const bytes = (event.data?.byteLength ?? 0) + EVENT_OVERHEAD_BYTES;
    if (
      this.pendingDeliveries + matches.length > this.maxPendingDeliveries ||
      this.pendingBytes + bytes * matches.length > this.maxPendingBytes
    ) {
      this.counters.rejected++;
      return { status: 429, reason: "the broker's delivery queue is full; retry later" };
    }
    if (this.journal) return this.store(this.journal, matches, event, ttl, passThrough, bytes);
    this.counters.accepted++;
    // Every Trigger of a broker lives in the broker's namespace: one set of headers serves all matches.
    const headers = { ...passThrough, prefer: "reply", "kn-namespace": this.namespace };
    const deadLetterHeaders = { ...passThrough, "kn-namespace": this.namespace };
    for (const trigger of matches) {
      this.pendingDeliveries++;
      this.pendingBytes += bytes;
      void this.deliver(trigger, event, ttl, headers, deadLetterHeaders).finally(() => {
        this.pendingDeliveries--;
        this.pendingBytes -= bytes;
        if (this.pendingDeliveries === 0) this.wakeIdle();
      });
    }
    return { status: 202 };
  }

  /** The durable path of ingest: the 202 waits until every delivery is stored. */
  private async store(
    journal: DeliveryJournal,
    matches: CompiledTrigger[],
    event: CloudEvent,
    ttl: number,
    headers: Record<string, string>,
    bytes: number,
  ): Promise<IngestResult> {
    // Pending from now on (they count against the bounds and for idle()); the journal hands them back as `local`.
    this.pendingDeliveries += matches.length;
    this.pendingBytes += bytes * matches.length;
    try {
      await journal.append(matches.map((trigger) => ({ trigger: triggerKey(trigger), event, ttl, headers })));
    } catch (error) {
      this.settle(matches.length, bytes * matches.length);
      this.counters.rejected++;
      this.log.error({ broker: `${this.namespace}/${this.name}`, err: error }, "the event could not be stored");
      // Its store is down (Redis unreachable, a disk failing): 503 with Retry-After, so every sender retries soon,
      // where Knative's ingress would answer 500 for an event it cannot hand on. Nothing was accepted.
      return { status: 503, reason: "the broker could not store the event; retry later" };
    }
    this.counters.accepted++;
    return { status: 202 };
  }

  private settle(deliveries: number, bytes: number): void {
    this.pendingDeliveries -= deliveries;
    this.pendingBytes -= bytes;
    if (this.pendingDeliveries === 0) this.wakeIdle();
  }

  /** The journal hands over a stored delivery (new, or pending from before a restart): run it. */
  private readonly dispatchStored = (delivery: StoredDelivery): void => {
    const bytes = (delivery.event.data?.byteLength ?? 0) + EVENT_OVERHEAD_BYTES;
    if (!delivery.local) {
      this.pendingDeliveries++;
      this.pendingBytes += bytes;
    }
    void this.deliverStored(delivery).finally(() => this.settle(1, bytes));
  };

  private async deliverStored(delivery: StoredDelivery): Promise<void> {
    const journal = this.journal!;
    const trigger = this.triggersByName.get(delivery.trigger);
    if (!trigger) {
      // As on a cluster, a deleted Trigger's pending deliveries go nowhere.
      this.counters.dropped++;
      this.log.warn(
        { trigger: `${this.namespace}/${delivery.trigger}`, id: delivery.event.attributes.id },
        "stored delivery dropped: its Trigger no longer exists",
      );
      await journal.remove(delivery.id).catch((error: unknown) => this.logJournalError(error));
      return;
    }
    const headers = { ...delivery.headers, prefer: "reply", "kn-namespace": this.namespace };
    const deadLetterHeaders = { ...delivery.headers, "kn-namespace": this.namespace };
    this.running++;
    try {
      const outcome = await traceDelivery(this, trigger.name, delivery.event, (event) =>
        deliverWithRetries(this.transport, trigger.subscriber, event, trigger.delivery, {
          headers,
          deadLetterHeaders,
          maxResponseBytes: this.maxResponseBytes,
          signal: this.shutdown.signal,
          resume: delivery.progress,
          onProgress: (progress) => journal.progress(delivery.id, progress),
          audience: trigger.subscriberAudience,
          tokenFor: this.tokenFor.get(triggerKey(trigger)),
          onReply: (reply, replyHeaders) => this.ingestReply(trigger, reply, delivery.ttl, replyHeaders),
          onRetry: this.countRetry,
          onDeadLetterRetry: this.countRetry,
        }),
      );
      if (outcome.kind === "dropped" && outcome.aborted) {
        this.log.info(
          { trigger: `${trigger.namespace}/${trigger.name}`, id: delivery.event.attributes.id },
          "delivery cut by shutdown: it stays stored and resumes at the next start",
        );
        return;
      }
      // Finished for good (a reply it produced is already stored): only now may it leave the journal.
      await journal.remove(delivery.id);
      this.count(trigger, delivery.event, outcome);
    } catch (error) {
      // A journal that failed mid-delivery: the delivery stays stored and runs again at the next start.
      this.logJournalError(error);
    } finally {
      this.finished();
    }
  }

  private finished(): void {
    this.running--;
    if (this.running === 0) {
      const waiters = this.runningWaiters;
      this.runningWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when no delivery is running (stored ones that were never started do not count). */
  private noneRunning(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.runningWaiters.push(resolve));
  }

  private logJournalError(error: unknown): void {
    this.log.error(
      { broker: `${this.namespace}/${this.name}`, err: error },
      "the broker journal failed: the delivery stays stored and resumes at the next start",
    );
  }

  private count(trigger: CompiledTrigger, event: CloudEvent, outcome: DeliveryOutcome): void {
    if (outcome.kind === "delivered") {
      this.counters.delivered++;
      return;
    }
    if (outcome.kind === "dead-lettered") this.counters.deadLettered++;
    else this.counters.dropped++;
    this.log.warn(
      {
        trigger: `${trigger.namespace}/${trigger.name}`,
        id: event.attributes.id,
        type: event.attributes.type,
        attempts: outcome.attempts,
        reason: outcome.reason,
      },
      outcome.kind === "dead-lettered"
        ? "delivery failed, event sent to the dead-letter sink"
        : "delivery failed, event dropped",
    );
  }

  private readonly countRetry = () => {
    this.counters.retried++;
    countRetry();
  };

  private async deliver(
    trigger: CompiledTrigger,
    event: CloudEvent,
    ttl: number,
    headers: Record<string, string>,
    deadLetterHeaders: Record<string, string>,
  ) {
    const counters = this.counters;
    this.running++;
    try {
      const outcome = await traceDelivery(this, trigger.name, event, (traced) =>
        deliverWithRetries(this.transport, trigger.subscriber, traced, trigger.delivery, {
          headers,
          deadLetterHeaders,
          maxResponseBytes: this.maxResponseBytes,
          signal: this.shutdown.signal,
          audience: trigger.subscriberAudience,
          tokenFor: this.tokenFor.get(triggerKey(trigger)),
          onReply: (reply, headers) => this.ingestReply(trigger, reply, ttl, headers),
          onRetry: this.countRetry,
          onDeadLetterRetry: this.countRetry,
        }),
      );
      this.count(trigger, event, outcome);
    } catch (error) {
      counters.dropped++;
      this.log.error({ trigger: trigger.name, err: error }, "delivery crashed");
    } finally {
      this.finished();
    }
  }

  /**
   * A subscriber's reply re-enters this broker with the delivered event's TTL restored (ingest decrements it), sent as
   * the Trigger's identity: a reply the Broker's EventPolicies refuse fails the delivery (403, not retried).
   */
  private ingestReply(
    trigger: CompiledTrigger,
    reply: CloudEvent,
    ttl: number,
    headers: Record<string, string>,
  ): ReplyVerdict | Promise<ReplyVerdict> {
    const refusal = this.admission?.authorize(trigger.identity, reply);
    if (refusal !== undefined) {
      this.counters.rejected++;
      return {
        accepted: false,
        status: refusal.status,
        retryable: false,
        reason: refusal.reason,
        destination: this.address,
      };
    }
    const result = traceIngress(this, withTtl(reply, ttl), (traced) => this.ingest(traced, headers));
    const verdict = (ingested: IngestResult): ReplyVerdict => {
      if (ingested.status === 202 && ingested.unmatched) this.logUnmatchedReply(trigger, reply);
      return this.replyVerdict(ingested);
    };
    return result instanceof Promise ? result.then(verdict) : verdict(result);
  }

  /**
   * Knative drops a reply no Trigger matches without a word; a subscriber whose reply lacks a routing attribute (an
   * external skill's tool.completed without knclawinstance) would leave its caller waiting for nothing. The line
   * names the reply by its attributes (what Triggers filter on), never its data.
   */
  private logUnmatchedReply(trigger: CompiledTrigger, reply: CloudEvent): void {
    this.log.warn(
      { broker: `${this.namespace}/${this.name}`, trigger: trigger.name, attributes: reply.attributes },
      "reply dropped: no Trigger matches it (does it carry the routing extensions its consumer's Trigger filters on, such as knclawinstance?)",
    );
  }

  private readonly replyVerdict = (result: IngestResult): ReplyVerdict => {
    if (result.status === 202) {
      this.counters.replies++;
      return { accepted: true };
    }
    return {
      accepted: false,
      status: result.status,
      retryable: result.status !== 400,
      reason: result.reason,
      destination: this.address,
    };
  };

  /** Resolves when no delivery is pending. */
  idle(): Promise<void> {
    if (this.pendingDeliveries === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Finish in-flight deliveries (retries and replies included) until `deadlineMs`, then abort what is left: without a
   * journal those deliveries count as dropped and are logged; with one they stay stored for the next start. Replies
   * of in-flight deliveries are still taken in while draining (they are part of the work being finished); the
   * ingress stops taking outside events before drain is called.
   */
  async drain(deadlineMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), deadlineMs);
    });
    const first = await Promise.race([this.idle().then(() => "idle" as const), deadline]);
    clearTimeout(timer);
    this.closed = true;
    // The journal hands out nothing more: what is stored and not started waits for the next start.
    await this.journal?.stop();
    if (first === "deadline") {
      this.log.warn(
        { broker: `${this.namespace}/${this.name}`, pending: this.pendingDeliveries },
        "shutdown deadline reached, aborting deliveries",
      );
      this.shutdown.abort();
      // Running deliveries, not pending ones: with a journal, stored deliveries that never started stay pending.
      await this.noneRunning();
    }
  }
}
