import { Cron } from "croner";
import type { Log } from "../broker/log.ts";
import { silentLog } from "../broker/log.ts";
import { SOURCE_DELIVERY } from "../delivery/delivery-policy.ts";
import { type DeliveryOutcome, deliverWithRetries } from "../delivery/retry-loop.ts";
import type { Transport } from "../delivery/transport.ts";
import { type CompiledPingSource, makePingEvent } from "./ping-source.ts";

export interface PingSchedulerOptions {
  transport: Transport;
  maxResponseBytes: number;
  log?: Log;
  /** The clock ticks are stamped with; tests inject one. */
  now?: () => Date;
  /** OIDC tokens: each tick to a sink with an audience carries one issued to the PingSource's identity. */
  tokens?: (subject: string, audience: string) => string | Promise<string>;
}

export interface PingCounters {
  ticks: number;
  sent: number;
  failed: number;
}

/**
 * Fires PingSources on their schedules (croner, in the source's time zone, UTC when none: Knative's adapter runs in
 * UTC) and sends each tick's event to the sink with the sources' retry policy (5 retries, exponential from 50 ms).
 * `fire` runs a tick now, so tests never wait for a wall-clock minute.
 */
export class PingScheduler {
  readonly counters: PingCounters = { ticks: 0, sent: 0, failed: 0 };
  private readonly sources = new Map<string, CompiledPingSource>();
  private readonly jobs: Cron[] = [];
  private readonly inFlight = new Set<Promise<DeliveryOutcome>>();
  private readonly abort = new AbortController();
  private readonly options: PingSchedulerOptions;
  private readonly log: Log;

  constructor(options: PingSchedulerOptions) {
    this.options = options;
    this.log = options.log ?? silentLog;
  }

  add(source: CompiledPingSource): void {
    this.sources.set(key(source.namespace, source.name), source);
  }

  list(): CompiledPingSource[] {
    return [...this.sources.values()];
  }

  start(): void {
    for (const source of this.sources.values()) {
      const job = new Cron(
        source.schedule.pattern,
        { ...source.schedule.options, timezone: source.schedule.timezone ?? "UTC", unref: true, catch: true },
        () => {
          void this.tick(source);
        },
      );
      this.jobs.push(job);
    }
  }

  /** When the source fires next, for `knclaw dev`'s listing. */
  nextRun(namespace: string, name: string): Date | undefined {
    const source = this.sources.get(key(namespace, name));
    if (!source) return undefined;
    const job = new Cron(source.schedule.pattern, {
      ...source.schedule.options,
      timezone: source.schedule.timezone ?? "UTC",
      paused: true,
    });
    const next = job.nextRun() ?? undefined;
    job.stop();
    return next;
  }

  /** Run one tick of a source now; resolves with the send's outcome. */
  fire(namespace: string, name: string): Promise<DeliveryOutcome> {
    const source = this.sources.get(key(namespace, name));
    if (!source) return Promise.reject(new Error(`no PingSource ${namespace}/${name}`));
    return this.tick(source);
  }

  private tick(source: CompiledPingSource): Promise<DeliveryOutcome> {
    this.counters.ticks++;
    const event = makePingEvent(source, this.options.now?.() ?? new Date());
    const tokens = this.options.tokens;
    const send = deliverWithRetries(this.options.transport, source.sink, event, SOURCE_DELIVERY, {
      headers: {},
      deadLetterHeaders: {},
      maxResponseBytes: this.options.maxResponseBytes,
      signal: this.abort.signal,
      audience: source.sinkAudience,
      tokenFor: tokens && ((audience) => tokens(source.identity, audience)),
    }).then((outcome) => {
      if (outcome.kind === "delivered") {
        this.counters.sent++;
      } else {
        this.counters.failed++;
        this.log.warn(
          { pingsource: `${source.namespace}/${source.name}`, id: event.attributes.id, reason: outcome.reason },
          "PingSource event could not be sent",
        );
      }
      return outcome;
    });
    this.inFlight.add(send);
    void send.finally(() => this.inFlight.delete(send));
    return send;
  }

  /** Stop firing; wait up to `deadlineMs` for sends in flight, then abort them. */
  async stop(deadlineMs = 10_000): Promise<void> {
    for (const job of this.jobs.splice(0)) job.stop();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    clearTimeout(timer);
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
