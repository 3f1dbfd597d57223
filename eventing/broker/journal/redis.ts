import { hostname } from "node:os";
import { Redis } from "ioredis";
import { useYoungCommandPromises } from "../../../runtime/redis-command-promise.ts";
import { type RedisWatchdog, watchRedis } from "../../../runtime/redis-watchdog.ts";
import type { DeliveryProgress } from "../../delivery/retry-loop.ts";
import { type Log, silentLog } from "../log.ts";
import {
  type DeliveryJournal,
  type Dispatch,
  decodeEvent,
  encodeAttributes,
  type JournalStore,
  type NewDelivery,
  type StoredDelivery,
} from "./journal.ts";

/**
 * The delivery journal on Redis Streams, for `knclaw dev --redis` (and any setup that has Redis anyway): one stream
 * per broker holding one entry per pending delivery, read through a consumer group, and a hash beside it with the
 * retry state of the deliveries that have one.
 *
 * - accept: XADD of each delivery; the ingress answers 202 once Redis has acknowledged them. How durable that is
 *   depends on Redis: with `appendonly yes` and `appendfsync always` nothing acknowledged is lost even to a power
 *   loss; with `everysec`, up to a second; without persistence, a Redis restart loses everything.
 * - deliver: XREADGROUP hands entries to this process's consumer; they stay in its pending entries list (PEL) until
 *   the delivery is finished, then XDEL + XACK (+ HDEL), for all the deliveries finished in one event-loop turn at
 *   once: each of those commands takes many ids.
 * - retry state: HSET before each wait, so a restart resumes with the same attempt count and due time.
 * - restart: the consumer name is stable (the host name unless configured), so a restarted process first reads its
 *   own PEL (XREADGROUP from 0), with the stored retry states.
 * - Redis restarted under a running process: on each reconnection the journal re-reads its own PEL at once (from 0)
 *   and hands out what no delivery here is running: entries read just before the connection dropped, and deliveries
 *   that stopped because their retry state could not be stored. Removals that failed are retried first, so a delivery
 *   that finished is not made again for want of its acknowledgement. Nothing waits for the take-over below.
 * - a process that died for good: its entries idle in its PEL. XAUTOCLAIM takes over entries idle for longer than
 *   `claimIdleMs`, at start and periodically; entries a live process is still working on (a long backoff, a slow
 *   subscriber) are kept fresh by XCLAIM ... JUSTID to itself, so they are never taken over while it lives.
 */
export interface RedisJournalOptions {
  url: string;
  /** Prefix of every key (default `knclaw:broker:`): the stream is `<prefix><ns>/<broker>:deliveries`. */
  keyPrefix?: string;
  /** This process's consumer name in each broker's group; must be stable across restarts. Default: the host name. */
  consumer?: string;
  /** Entries pending at a consumer for longer than this are taken over (its process died). Default 60 s. */
  claimIdleMs?: number;
  log?: Log;
}

const GROUP = "dispatch";
const READ_BATCH = 256;
const BLOCK_MS = 1000;
/** Pause before reading again after Redis failed (it is down or restarting). */
const RETRY_READ_MS = 500;
/** Keep-fresh and take-over run at half the claim idle time, and never more often than this. */
const MIN_CLAIM_INTERVAL_MS = 1000;
/** Pause while the broker has no room for more deliveries. */
const FULL_WAIT_MS = 20;

type Fields = Map<string, Buffer>;
type StreamEntry = [id: Buffer, fields: Buffer[] | null];

export async function openRedisJournal(options: RedisJournalOptions): Promise<JournalStore> {
  useYoungCommandPromises();
  const client = new Redis(options.url, {
    protocol: 2,
    // No auto-pipelining: its per-turn pipelines kept every command of a turn alive through the next scavenge (about
    // 2 MB promoted per scavenge at 1,000 events/s). The removals of a turn are batched here instead (remove).
    enableAutoPipelining: false,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
  });
  const log = options.log ?? silentLog;
  client.on("error", (error: Error) => log.debug({ err: error }, "broker journal: Redis connection error"));
  await client.connect();
  // Recovery, take-over and keep-fresh commands have a connection of their own: they never wait behind deliveries.
  const control = client.duplicate();
  control.on("error", (error: Error) => log.debug({ err: error }, "broker journal: Redis connection error"));
  // A hung Redis (stopped, not down) would hold every append, and so the ingress's answer, indefinitely: the
  // watchdog refuses new commands after ~75 ms without a PONG (append answers 503) and reconnects both clients after
  // 300 ms, failing what waits.
  const watchdog = watchRedis(options.url, [client, control], {
    onHung: () => log.warn({}, "broker journal: Redis does not answer; refusing events until it does"),
  });
  return new RedisStore(client, control, watchdog, {
    keyPrefix: options.keyPrefix ?? "knclaw:broker:",
    consumer: options.consumer ?? hostname(),
    claimIdleMs: options.claimIdleMs ?? 60_000,
    log,
  });
}

interface StoreSettings {
  keyPrefix: string;
  consumer: string;
  claimIdleMs: number;
  log: Log;
}

class RedisStore implements JournalStore {
  readonly kind = "redis";
  private readonly client: Redis;
  private readonly control: Redis;
  private readonly settings: StoreSettings;
  private readonly journals: RedisJournal[] = [];
  private readonly watchdog: RedisWatchdog;

  constructor(client: Redis, control: Redis, watchdog: RedisWatchdog, settings: StoreSettings) {
    this.client = client;
    this.control = control;
    this.watchdog = watchdog;
    this.settings = settings;
  }

  forBroker(namespace: string, name: string): DeliveryJournal {
    const base = `${this.settings.keyPrefix}${namespace}/${name}`;
    const journal = new RedisJournal(this.client, this.control, base, this.settings);
    this.journals.push(journal);
    return journal;
  }

  async close(): Promise<void> {
    await Promise.all(this.journals.map((journal) => journal.stop()));
    await this.watchdog.stop();
    await this.client.quit().catch(() => this.client.disconnect());
    await this.control.quit().catch(() => this.control.disconnect());
  }
}

class RedisJournal implements DeliveryJournal {
  private readonly client: Redis;
  private readonly control: Redis;
  private readonly stream: string;
  private readonly retries: string;
  private readonly settings: StoreSettings;
  /** Entries a delivery is running for here: kept fresh against XAUTOCLAIM by other processes, never handed out twice. */
  private readonly held = new Set<string>();
  /** Finished deliveries whose removal failed (Redis was away): removed again when it is back. */
  private readonly unremoved = new Set<string>();
  private dispatch: Dispatch | undefined;
  private recovering: Promise<void> | undefined;
  private recoverAgain = false;
  /** Held entries with a retry state in the hash: only those need an HDEL when they finish. */
  private readonly withState = new Set<string>();
  /** Entries appended by this process and not read back yet: handed out as `local`. */
  private readonly appendedHere = new Set<string>();
  /** XADDs not answered yet: the reader may see an entry before its XADD's answer arrives (two connections). */
  private readonly appending = new Set<Promise<unknown>>();
  /** Finished this turn, removed together at the end of it (flushRemovals). */
  private removals: RemovalBatch | undefined;
  private reader: Redis | undefined;
  private reading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(client: Redis, control: Redis, base: string, settings: StoreSettings) {
    this.client = client;
    this.control = control;
    this.stream = `${base}:deliveries`;
    this.retries = `${base}:retry`;
    this.settings = settings;
  }

  async append(deliveries: readonly NewDelivery[]): Promise<void> {
    // While Redis is known to be down, refuse at once (the ingress answers 503 with Retry-After) instead of queueing
    // the event until the reconnection gives up. The journal's own bookkeeping keeps ioredis's offline queue, so a
    // blip never strands a delivery that is already stored.
    if (this.client.status !== "ready") throw new Error(`Redis is not connected (${this.client.status})`);
    const appended = Promise.allSettled(
      deliveries.map((delivery) => {
        const args: Array<string | Buffer> = [
          this.stream,
          "*",
          "trigger",
          delivery.trigger,
          "attributes",
          encodeAttributes(delivery.event),
          "ttl",
          String(delivery.ttl),
          "headers",
          JSON.stringify(delivery.headers),
        ];
        const data = delivery.event.data;
        if (data !== undefined) args.push("data", Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        const [key, ...rest] = args;
        return this.client.xadd(key!, ...rest);
      }),
    );
    this.appending.add(appended);
    const results = await appended;
    this.appending.delete(appended);
    const failed = results.find((result) => result.status === "rejected");
    // The entries stored before a failure are delivered (at least once), but as foreign ones: no 202 counted them.
    if (failed) throw failed.reason;
    for (const result of results)
      if (result.status === "fulfilled" && result.value) this.appendedHere.add(result.value);
  }

  async progress(id: string, progress: DeliveryProgress): Promise<void> {
    this.withState.add(id);
    try {
      await this.client.hset(this.retries, id, JSON.stringify(progress));
    } catch (error) {
      // The broker stops this delivery (it stays stored): it is no longer running here, so a recovery hands it out.
      this.held.delete(id);
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    let batch = this.removals;
    if (batch === undefined) {
      batch = this.removals = { ids: [], withState: [], ...Promise.withResolvers<void>() };
      // After this turn's other deliveries have finished too: one set of commands for all of them.
      setImmediate(flushRemovals, this);
    }
    batch.ids.push(id);
    if (this.withState.delete(id)) batch.withState.push(id);
    try {
      await batch.promise;
    } catch (error) {
      // Finished, but still stored: removed again after the reconnection (else another process takes it over).
      this.unremoved.add(id);
      throw error;
    } finally {
      this.held.delete(id);
    }
  }

  /** Sends the removals of the turn that just ended. */
  flushRemovals(): void {
    const batch = this.removals!;
    this.removals = undefined;
    this.removeStored(batch.ids, batch.withState).then(batch.resolve, batch.reject);
  }

  private async removeStored(ids: readonly string[], withState: readonly string[]): Promise<void> {
    // No MULTI: XDEL first, so a crash between the two leaves a pending entry without content, which the next start
    // acknowledges (handOut); the reverse order could leave content no consumer would ever read.
    await Promise.all([
      this.client.xdel(this.stream, ...ids),
      this.client.xack(this.stream, GROUP, ...ids),
      withState.length > 0 ? this.client.hdel(this.retries, ...withState) : undefined,
    ]);
  }

  async start(dispatch: Dispatch, room: () => number): Promise<void> {
    try {
      // From 0: entries stored before the group existed are delivered too.
      await this.client.xgroup("CREATE", this.stream, GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) throw error;
    }
    this.dispatch = dispatch;
    // What this consumer had when its process stopped, with retry states, before anything new.
    await this.readOwnPending(dispatch);
    // Every later connection of the control client follows a loss of Redis (a restart, a network cut): recover then.
    this.control.on("ready", this.onReconnect);
    await this.claimIdle(dispatch);
    this.reader = this.control.duplicate();
    this.reader.on("error", (error: Error) =>
      this.settings.log.debug({ err: error }, "broker journal: Redis reader connection error"),
    );
    this.reading = this.readNew(this.reader, dispatch, room);
    this.timer = setInterval(
      () => {
        void this.keepFresh()
          .then(() => this.claimIdle(dispatch))
          .catch((error: unknown) =>
            this.settings.log.warn({ err: error }, "broker journal: claim of idle entries failed"),
          );
      },
      Math.max(MIN_CLAIM_INTERVAL_MS, this.settings.claimIdleMs / 2),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.control.off("ready", this.onReconnect);
    clearInterval(this.timer);
    this.reader?.disconnect();
    await this.reading;
  }

  private readonly onReconnect = (): void => {
    void this.recover();
  };

  /**
   * After Redis came back: finish the removals that failed, then hand out this consumer's pending entries that no
   * delivery here is running. One recovery at a time; a reconnection during one makes it run once more.
   */
  private async recover(): Promise<void> {
    if (this.recovering !== undefined) {
      this.recoverAgain = true;
      return;
    }
    this.recovering = (async () => {
      do {
        this.recoverAgain = false;
        try {
          const unremoved = [...this.unremoved];
          if (unremoved.length > 0) await this.removeStored(unremoved, unremoved);
          for (const id of unremoved) this.unremoved.delete(id);
          await this.readOwnPending(this.dispatch!);
          this.settings.log.info(
            { stream: this.stream },
            "broker journal: pending deliveries recovered after reconnecting",
          );
        } catch (error) {
          // Redis went away again: the next reconnection recovers.
          this.settings.log.warn({ err: error }, "broker journal: recovery after reconnecting failed");
        }
      } while (this.recoverAgain && !this.stopped);
    })();
    await this.recovering;
    this.recovering = undefined;
  }

  private async readOwnPending(dispatch: Dispatch): Promise<void> {
    let cursor = "0";
    for (;;) {
      const reply = (await this.control.callBuffer(
        "XREADGROUP",
        "GROUP",
        GROUP,
        this.settings.consumer,
        "COUNT",
        READ_BATCH,
        "STREAMS",
        this.stream,
        cursor,
      )) as Array<[Buffer, StreamEntry[]]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      await this.handOut(entries, dispatch, true);
      cursor = entries[entries.length - 1]![0].toString();
    }
  }

  /** Take over the entries other consumers (dead processes) have left idle for longer than `claimIdleMs`. */
  private async claimIdle(dispatch: Dispatch): Promise<void> {
    let cursor = "0-0";
    do {
      if (this.stopped) return;
      const reply = (await this.control.callBuffer(
        "XAUTOCLAIM",
        this.stream,
        GROUP,
        this.settings.consumer,
        this.settings.claimIdleMs,
        cursor,
        "COUNT",
        READ_BATCH,
      )) as [Buffer, StreamEntry[], ...unknown[]];
      cursor = reply[0].toString();
      await this.handOut(reply[1], dispatch, true);
    } while (cursor !== "0-0");
  }

  /** Reset the idle time of the entries being worked on here, so no other process takes them over. */
  private async keepFresh(): Promise<void> {
    if (this.held.size === 0) return;
    await this.control.call("XCLAIM", [this.stream, GROUP, this.settings.consumer, "0", ...this.held, "JUSTID"]);
  }

  private async readNew(reader: Redis, dispatch: Dispatch, room: () => number): Promise<void> {
    while (!this.stopped) {
      const free = room();
      if (free <= 0) {
        await pause(FULL_WAIT_MS);
        continue;
      }
      try {
        const reply = (await reader.callBuffer(
          "XREADGROUP",
          "GROUP",
          GROUP,
          this.settings.consumer,
          "COUNT",
          Math.min(free, READ_BATCH),
          "BLOCK",
          BLOCK_MS,
          "STREAMS",
          this.stream,
          ">",
        )) as Array<[Buffer, StreamEntry[]]> | null;
        if (this.stopped) {
          // Read as the reader was stopping: they stay in the PEL for the next start.
          return;
        }
        const entries = reply?.[0]?.[1];
        if (entries) await this.handOut(entries, dispatch, false);
      } catch (error) {
        if (this.stopped) return;
        this.settings.log.warn({ err: error }, "broker journal: reading new deliveries failed; retrying");
        await pause(RETRY_READ_MS);
      }
    }
  }

  /** Dispatch entries in stream order; `recovered` entries may have retry state. Deleted entries are acknowledged. */
  private async handOut(entries: StreamEntry[], dispatch: Dispatch, recovered: boolean): Promise<void> {
    if (entries.length === 0) return;
    const ids = entries.map((entry) => entry[0].toString());
    const states = recovered ? ((await this.control.hmget(this.retries, ...ids)) as Array<string | null>) : [];
    // Whether an entry is `local` is known once the XADDs in flight have their answers.
    if (!recovered && this.appending.size > 0) await Promise.all([...this.appending]);
    for (const [index, [, raw]] of entries.entries()) {
      const id = ids[index]!;
      // A delivery running here already (read again by a recovery or a take-over), or finished and not yet removed:
      // checked after the awaits above, right before the dispatch, so no entry is ever handed out twice at once.
      if (this.held.has(id) || this.unremoved.has(id)) continue;
      if (raw === null) {
        await this.client.xack(this.stream, GROUP, id);
        continue;
      }
      const fields: Fields = new Map();
      for (let i = 0; i + 1 < raw.length; i += 2) fields.set(raw[i]!.toString(), raw[i + 1]!);
      const delivery: StoredDelivery = {
        id,
        trigger: text(fields, "trigger"),
        event: decodeEvent(text(fields, "attributes"), fields.get("data")),
        ttl: Number(text(fields, "ttl")),
        headers: JSON.parse(text(fields, "headers")) as Record<string, string>,
      };
      const state = states[index];
      if (state) {
        delivery.progress = JSON.parse(state) as DeliveryProgress;
        this.withState.add(id);
      }
      if (this.appendedHere.delete(id)) delivery.local = true;
      this.held.add(id);
      dispatch(delivery);
    }
  }
}

/** The deliveries finished in one event-loop turn, and the promise their removal settles. */
interface RemovalBatch extends PromiseWithResolvers<void> {
  ids: string[];
  /** Those with a retry state in the hash (an HDEL too). */
  withState: string[];
}

function flushRemovals(journal: RedisJournal): void {
  journal.flushRemovals();
}

function text(fields: Fields, name: string): string {
  const value = fields.get(name);
  if (value === undefined) throw new Error(`broker journal entry without ${name}`);
  return value.toString("utf8");
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
