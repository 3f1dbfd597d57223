import type { DeadLetter, DeadLetterSummary } from "../../../clients/memory/contract/dead-letters.ts";
import { execReplies, guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { DELETE_DEAD_LETTER, DROP_DEAD_LETTERS, RECORD_REPLAY, STORE_DEAD_LETTER } from "./lua.ts";
import { DeadLetterPager, isFiltered } from "./pager.ts";
import type {
  DeadLetterFilterValues,
  DeadLetterListing,
  DeadLetterStore,
  DeadLetterWrite,
  ReplayRecord,
  StoreDeadLetterOutcome,
} from "./store.ts";

const store = new Script(STORE_DEAD_LETTER);
const recordReplay = new Script(RECORD_REPLAY);
const remove = new Script(DELETE_DEAD_LETTER);
const drop = new Script(DROP_DEAD_LETTERS);

/** Redis deletes an entry by itself this long after its expiry, should no purge have reached it by then. */
const BACKSTOP_MS = 3_600_000;
/** Expired (or over-cap) entries dropped per pass. */
const DROP_BATCH = 100;
/** Members read per round trip while a filtered listing scans. */
const SCAN_BATCH = 200;
/** Filter values stand-in for unfiltered listings (every member matches an empty filter). */
const UNFILTERED: DeadLetterFilterValues = { instance: null, type: "", destination: null };

/** a, b, er, r, l, n, p, c, x (see lua.ts). */
type SummaryFields = [
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
];

function queueKeys(ctx: RedisContext, queue: string): [string, string, string] {
  const { keys } = ctx;
  return [keys.deadLetters(queue), keys.deadLettersExpiry(queue), keys.deadLetterFilters(queue)];
}

function toSummary(queue: string, id: string, fields: SummaryFields): DeadLetterSummary | undefined {
  const [attributes, bytes, error, received, last, count, replayed, replays, expires] = fields;
  if (attributes === null || expires === null) return undefined;
  return {
    id,
    queue,
    attributes: JSON.parse(attributes) as DeadLetterSummary["attributes"],
    dataBytes: bytes ? Number(bytes) : null,
    error: JSON.parse(error ?? "{}") as DeadLetterSummary["error"],
    receivedAt: Number(received),
    lastReceivedAt: Number(last),
    receivedCount: Number(count),
    replayedAt: replayed ? Number(replayed) : null,
    replayCount: Number(replays),
    expiresAt: Number(expires),
  };
}

function live<T extends { expiresAt: number }>(entry: T | undefined, now: number): T | undefined {
  return entry && entry.expiresAt > now ? entry : undefined;
}

/** Passes of DROP_BATCH a purge makes at most, so one request's extra work stays bounded. */
const PURGE_PASSES = 10;

/** Drop expired entries (before every store and listing), so listings rarely meet one. */
async function purgeExpired(ctx: RedisContext, queue: string, now: number): Promise<void> {
  const [index, expiry, filters] = queueKeys(ctx, queue);
  for (let pass = 0; pass < PURGE_PASSES; pass++) {
    const members = await guard(() => ctx.client.zrangebyscore(expiry, "-inf", now, "LIMIT", 0, DROP_BATCH));
    if (members.length === 0) return;
    await drop.run<number>(
      ctx.client,
      [index, index, expiry, filters, ...members.map((m) => ctx.keys.deadLetter(queue, m.slice(16)))],
      ["expired", now, ...members],
    );
    if (members.length < DROP_BATCH) return;
  }
}

/** Rounds of DROP_BATCH a trim makes at most (a cap lowered by a lot is reached over several stores). */
const TRIM_ROUNDS = 20;

/**
 * Drop the oldest entries while the queue holds more than `maxEntries`. The loop ends only once it saw the queue
 * within the cap, so after concurrent stores the last one to finish leaves the queue within it.
 */
async function trimToCap(ctx: RedisContext, queue: string, maxEntries: number, count: number): Promise<void> {
  const [index, expiry, filters] = queueKeys(ctx, queue);
  let size = count;
  for (let round = 0; round < TRIM_ROUNDS && size > maxEntries; round++) {
    const excess = Math.min(size - maxEntries, DROP_BATCH);
    const members = await guard(() => ctx.client.zrange(index, "0", String(excess - 1)));
    if (members.length > 0) {
      await drop.run<number>(
        ctx.client,
        [index, index, expiry, filters, ...members.map((m) => ctx.keys.deadLetter(queue, m.slice(16)))],
        ["over", maxEntries, ...members],
      );
    }
    size = await guard(() => ctx.client.zcard(index));
  }
}

function parseFilter(stored: string | null): DeadLetterFilterValues | undefined {
  if (stored === null) return undefined;
  const [instance, type, destination] = JSON.parse(stored) as [string | null, string, string | null];
  return { instance, type, destination };
}

/** Dead-letter queues on Redis (scripts in lua.ts). */
export class RedisDeadLetterStore implements DeadLetterStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async store(queue: string, input: DeadLetterWrite): Promise<StoreDeadLetterOutcome> {
    await purgeExpired(this.#ctx, queue, input.now);
    const [created, fields, count] = await store.run<[number, SummaryFields, number]>(
      this.#ctx.client,
      [this.#ctx.keys.deadLetter(queue, input.id), ...queueKeys(this.#ctx, queue)],
      [
        input.id,
        input.now,
        input.attributesJson,
        input.dataBase64 === undefined ? 0 : 1,
        input.dataBase64 ?? "",
        input.dataBytes ?? "",
        JSON.stringify(input.error),
        JSON.stringify([input.filter.instance, input.filter.type, input.filter.destination]),
        input.maxAgeMs,
        BACKSTOP_MS,
        input.requestId ?? "",
      ],
    );
    if (count > input.maxEntries) await trimToCap(this.#ctx, queue, input.maxEntries, count);
    return { created: created === 1, deadLetter: toSummary(queue, input.id, fields)! };
  }

  async get(queue: string, id: string, now: number): Promise<DeadLetter | undefined> {
    const fields = await guard(() =>
      this.#ctx.client.hmget(this.#ctx.keys.deadLetter(queue, id), "a", "b", "er", "r", "l", "n", "p", "c", "x", "d"),
    );
    const summary = live(toSummary(queue, id, fields.slice(0, 9) as SummaryFields), now);
    return summary && { ...summary, dataBase64: fields[9] ?? null };
  }

  async list(
    queue: string,
    input: DeadLetterListing,
  ): Promise<{ deadLetters: DeadLetterSummary[]; next: string | null }> {
    const { client, keys } = this.#ctx;
    await purgeExpired(this.#ctx, queue, input.now);
    const pager = new DeadLetterPager(input.limit, input);
    const filtered = isFiltered(input);
    let from = input.after === undefined ? "+" : `(${input.after}`;
    for (;;) {
      const count = Math.min(pager.wanted, filtered ? SCAN_BATCH : pager.wanted);
      const members = await guard(() => client.zrevrangebylex(keys.deadLetters(queue), from, "-", "LIMIT", 0, count));
      if (members.length === 0) break;
      const values = filtered
        ? await guard(() => client.hmget(keys.deadLetterFilters(queue), ...members.map((m) => m.slice(16))))
        : [];
      let more = true;
      for (const [i, member] of members.entries()) {
        more = pager.offer(member, filtered ? parseFilter(values[i] ?? null) : UNFILTERED);
        if (!more) break;
      }
      if (!more || members.length < count) break;
      from = `(${members[members.length - 1]!}`;
    }
    const { members, next } = pager.finish();
    const pipeline = client.pipeline();
    for (const member of members) {
      pipeline.hmget(keys.deadLetter(queue, member.slice(16)), "a", "b", "er", "r", "l", "n", "p", "c", "x");
    }
    const replies = members.length === 0 ? [] : await execReplies(pipeline);
    const deadLetters: DeadLetterSummary[] = [];
    replies.forEach((fields, i) => {
      const summary = live(toSummary(queue, members[i]!.slice(16), fields as SummaryFields), input.now);
      if (summary) deadLetters.push(summary);
    });
    return { deadLetters, next };
  }

  async recordReplay(queue: string, id: string, input: ReplayRecord): Promise<DeadLetterSummary | undefined> {
    const fields = await recordReplay.run<SummaryFields | null>(
      this.#ctx.client,
      [this.#ctx.keys.deadLetter(queue, id)],
      [input.now, input.requestId ?? ""],
    );
    return fields === null ? undefined : toSummary(queue, id, fields);
  }

  async delete(queue: string, id: string, now: number): Promise<boolean> {
    const deleted = await remove.run<number>(
      this.#ctx.client,
      [this.#ctx.keys.deadLetter(queue, id), ...queueKeys(this.#ctx, queue)],
      [id, now],
    );
    return deleted === 1;
  }
}
