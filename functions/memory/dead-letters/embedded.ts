import type { DeadLetter, DeadLetterSummary } from "../../../clients/memory/contract/dead-letters.ts";
import type { Database } from "../embedded/database.ts";
import { listMember } from "../paging.ts";
import { DeadLetterPager } from "./pager.ts";
import type {
  DeadLetterListing,
  DeadLetterStore,
  DeadLetterWrite,
  ReplayRecord,
  StoreDeadLetterOutcome,
} from "./store.ts";

/**
 * One row per entry: its listing member (`<receivedAt>:<id>`, as on Redis), the summary as answered, the data, the
 * filter values, and the last request ids that stored or replayed it (a retried request counts once).
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS dead_letters (
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    member TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    summary TEXT NOT NULL,
    data_base64 TEXT,
    instance TEXT,
    type TEXT NOT NULL,
    destination TEXT,
    last_request_id TEXT NOT NULL,
    last_replay_request_id TEXT NOT NULL,
    PRIMARY KEY (queue, id)
  );
  CREATE INDEX IF NOT EXISTS dead_letters_by_member ON dead_letters (queue, member);
  CREATE INDEX IF NOT EXISTS dead_letters_expiry ON dead_letters (expires_at);`;

interface EntryRow {
  summary: string;
  last_request_id: string;
  last_replay_request_id: string;
}

/** Dead-letter queues in the embedded database. */
export class EmbeddedDeadLetterStore implements DeadLetterStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Deletes expired entries (they are invisible already). */
  sweep(now: number): void {
    this.#db.write(() => this.#db.run("DELETE FROM dead_letters WHERE expires_at <= ?", now));
  }

  #live(queue: string, id: string, now: number): EntryRow | undefined {
    return this.#db.get<EntryRow>(
      `SELECT summary, last_request_id, last_replay_request_id FROM dead_letters
       WHERE queue = ? AND id = ? AND expires_at > ?`,
      queue,
      id,
      now,
    );
  }

  async store(queue: string, input: DeadLetterWrite): Promise<StoreDeadLetterOutcome> {
    return this.#db.write(() => {
      const now = input.now;
      this.#db.run("DELETE FROM dead_letters WHERE queue = ? AND expires_at <= ?", queue, now);
      const existing = this.#live(queue, input.id, now);
      const requestId = input.requestId ?? "";
      if (existing) {
        let summary = JSON.parse(existing.summary) as DeadLetterSummary;
        if (requestId === "" || existing.last_request_id !== requestId) {
          summary = {
            ...summary,
            error: input.error,
            lastReceivedAt: now,
            receivedCount: summary.receivedCount + 1,
            expiresAt: now + input.maxAgeMs,
          };
          this.#db.run(
            "UPDATE dead_letters SET summary = ?, expires_at = ?, last_request_id = ? WHERE queue = ? AND id = ?",
            JSON.stringify(summary),
            summary.expiresAt,
            requestId,
            queue,
            input.id,
          );
        }
        return { created: false, deadLetter: summary };
      }
      const summary: DeadLetterSummary = {
        id: input.id,
        queue,
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
      this.#db.run(
        `INSERT INTO dead_letters (queue, id, member, expires_at, summary, data_base64, instance, type, destination,
           last_request_id, last_replay_request_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`,
        queue,
        input.id,
        listMember(now, input.id),
        summary.expiresAt,
        JSON.stringify(summary),
        input.dataBase64 ?? null,
        input.filter.instance,
        input.filter.type,
        input.filter.destination,
        requestId,
      );
      // The oldest entries go while the queue holds more than maxEntries.
      const { entries } = this.#db.get<{ entries: number }>(
        "SELECT count(*) AS entries FROM dead_letters WHERE queue = ?",
        queue,
      )!;
      if (entries > input.maxEntries) {
        this.#db.run(
          `DELETE FROM dead_letters WHERE queue = ?1 AND id IN
             (SELECT id FROM dead_letters WHERE queue = ?1 ORDER BY member LIMIT ?2)`,
          queue,
          entries - input.maxEntries,
        );
      }
      return { created: true, deadLetter: summary };
    });
  }

  async get(queue: string, id: string, now: number): Promise<DeadLetter | undefined> {
    const row = this.#db.read(() =>
      this.#db.get<{ summary: string; data_base64: string | null }>(
        "SELECT summary, data_base64 FROM dead_letters WHERE queue = ? AND id = ? AND expires_at > ?",
        queue,
        id,
        now,
      ),
    );
    return row && { ...(JSON.parse(row.summary) as DeadLetterSummary), dataBase64: row.data_base64 };
  }

  async list(
    queue: string,
    input: DeadLetterListing,
  ): Promise<{ deadLetters: DeadLetterSummary[]; next: string | null }> {
    return this.#db.read(() => {
      const rows = this.#db.iterate<{
        member: string;
        summary: string;
        instance: string | null;
        type: string;
        destination: string | null;
      }>(
        `SELECT member, summary, instance, type, destination FROM dead_letters
         WHERE queue = ? AND expires_at > ? AND (? IS NULL OR member < ?) ORDER BY member DESC`,
        queue,
        input.now,
        input.after ?? null,
        input.after ?? null,
      );
      const pager = new DeadLetterPager(input.limit, input);
      const summaries = new Map<string, string>();
      for (const row of rows) {
        summaries.set(row.member, row.summary);
        if (!pager.offer(row.member, row)) break;
      }
      const { members, next } = pager.finish();
      return {
        deadLetters: members.map((member) => JSON.parse(summaries.get(member)!) as DeadLetterSummary),
        next,
      };
    });
  }

  async recordReplay(queue: string, id: string, input: ReplayRecord): Promise<DeadLetterSummary | undefined> {
    return this.#db.write(() => {
      const row = this.#live(queue, id, input.now);
      if (!row) return undefined;
      let summary = JSON.parse(row.summary) as DeadLetterSummary;
      const requestId = input.requestId ?? "";
      if (requestId === "" || row.last_replay_request_id !== requestId) {
        summary = { ...summary, replayedAt: input.now, replayCount: summary.replayCount + 1 };
        this.#db.run(
          "UPDATE dead_letters SET summary = ?, last_replay_request_id = ? WHERE queue = ? AND id = ?",
          JSON.stringify(summary),
          requestId,
          queue,
          id,
        );
      }
      return summary;
    });
  }

  async delete(queue: string, id: string, now: number): Promise<boolean> {
    return this.#db.write(() => {
      const deleted = this.#db.run(
        "DELETE FROM dead_letters WHERE queue = ? AND id = ? AND expires_at > ?",
        queue,
        id,
        now,
      );
      return Number(deleted.changes) > 0;
    });
  }
}
