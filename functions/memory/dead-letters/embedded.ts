import type { DeadLetter, DeadLetterSummary } from "../../../clients/memory/contract/dead-letters.ts";
import { stateOf } from "../embedded/maps.ts";
import { listMember } from "../paging.ts";
import { DeadLetterPager } from "./pager.ts";
import type {
  DeadLetterFilterValues,
  DeadLetterListing,
  DeadLetterStore,
  DeadLetterWrite,
  ReplayRecord,
  StoreDeadLetterOutcome,
} from "./store.ts";

/** One dead-letter queue of the embedded store: entries by id (their `member` orders them, as in Redis). */
interface StoredDeadLetter {
  member: string;
  summary: DeadLetterSummary;
  dataBase64: string | null;
  filter: DeadLetterFilterValues;
  lastRequestId: string;
  lastReplayRequestId: string;
}

type DeadLetterQueue = Map<string, StoredDeadLetter>;

function liveEntry(queue: DeadLetterQueue, id: string, now: number): StoredDeadLetter | undefined {
  const stored = queue.get(id);
  if (stored && stored.summary.expiresAt <= now) {
    queue.delete(id);
    return undefined;
  }
  return stored;
}

/** Drop the oldest entries while the queue holds more than `maxEntries`. */
function sweepDeadLetters(queue: DeadLetterQueue, now: number): void {
  for (const [id, stored] of queue) if (stored.summary.expiresAt <= now) queue.delete(id);
}

function trimToCap(queue: DeadLetterQueue, maxEntries: number): void {
  while (queue.size > maxEntries) {
    let oldest: StoredDeadLetter | undefined;
    for (const stored of queue.values()) if (!oldest || stored.member < oldest.member) oldest = stored;
    queue.delete(oldest!.summary.id);
  }
}

/** Dead-letter queues in process. */
export class EmbeddedDeadLetterStore implements DeadLetterStore {
  readonly #queues = new Map<string, DeadLetterQueue>();

  #of(name: string): DeadLetterQueue {
    return stateOf(this.#queues, name, () => new Map());
  }

  /** Frees expired entries (they are invisible already). */
  sweep(now: number): void {
    for (const queue of this.#queues.values()) sweepDeadLetters(queue, now);
  }

  async store(name: string, input: DeadLetterWrite): Promise<StoreDeadLetterOutcome> {
    const queue = this.#of(name);
    const now = input.now;
    sweepDeadLetters(queue, now);
    const existing = liveEntry(queue, input.id, now);
    const requestId = input.requestId ?? "";
    if (existing) {
      if (requestId === "" || existing.lastRequestId !== requestId) {
        existing.summary = {
          ...existing.summary,
          error: input.error,
          lastReceivedAt: now,
          receivedCount: existing.summary.receivedCount + 1,
          expiresAt: now + input.maxAgeMs,
        };
        existing.lastRequestId = requestId;
      }
      return { created: false, deadLetter: existing.summary };
    }
    const summary: DeadLetterSummary = {
      id: input.id,
      queue: name,
      attributes: JSON.parse(input.attributesJson) as DeadLetterSummary["attributes"],
      dataBytes: input.dataBytes,
      error: input.error,
      receivedAt: now,
      lastReceivedAt: now,
      receivedCount: 1,
      replayedAt: null,
      replayCount: 0,
      expiresAt: now + input.maxAgeMs,
    };
    queue.set(input.id, {
      member: listMember(now, input.id),
      summary,
      dataBase64: input.dataBase64 ?? null,
      filter: input.filter,
      lastRequestId: requestId,
      lastReplayRequestId: "",
    });
    trimToCap(queue, input.maxEntries);
    return { created: true, deadLetter: summary };
  }

  async get(name: string, id: string, now: number): Promise<DeadLetter | undefined> {
    const queue = this.#of(name);
    const stored = liveEntry(queue, id, now);
    return stored && { ...stored.summary, dataBase64: stored.dataBase64 };
  }

  async list(
    name: string,
    input: DeadLetterListing,
  ): Promise<{ deadLetters: DeadLetterSummary[]; next: string | null }> {
    const queue = this.#of(name);
    sweepDeadLetters(queue, input.now);
    const entries = [...queue.values()]
      .filter((stored) => input.after === undefined || stored.member < input.after)
      .sort((a, b) => (a.member < b.member ? 1 : -1));
    const pager = new DeadLetterPager(input.limit, input);
    for (const stored of entries) if (!pager.offer(stored.member, stored.filter)) break;
    const { members, next } = pager.finish();
    const byMember = new Map(entries.map((stored) => [stored.member, stored.summary]));
    return { deadLetters: members.map((member) => byMember.get(member)!), next };
  }

  async recordReplay(name: string, id: string, input: ReplayRecord): Promise<DeadLetterSummary | undefined> {
    const queue = this.#of(name);
    const stored = liveEntry(queue, id, input.now);
    if (!stored) return undefined;
    const requestId = input.requestId ?? "";
    if (requestId === "" || stored.lastReplayRequestId !== requestId) {
      stored.summary = { ...stored.summary, replayedAt: input.now, replayCount: stored.summary.replayCount + 1 };
      stored.lastReplayRequestId = requestId;
    }
    return stored.summary;
  }

  async delete(name: string, id: string, now: number): Promise<boolean> {
    const queue = this.#of(name);
    return liveEntry(queue, id, now) !== undefined && queue.delete(id);
  }
}
