import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";
import { DAY_MS } from "../../../clients/memory/contract/fields.ts";
import type { Database } from "../embedded/database.ts";
import type { AuditAppend, AuditRange, AuditStore } from "./store.ts";

/**
 * Entries keyed by their stream id's two numbers; per instance the stream's length and its last id (so an append
 * neither counts nor searches the stream); and the ids each batchKey's append answered, kept a day.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS audit (
    instance TEXT NOT NULL,
    ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (instance, ms, seq)
  );
  CREATE TABLE IF NOT EXISTS audit_streams (
    instance TEXT PRIMARY KEY,
    length INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS audit_batches (
    instance TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    ids TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (instance, batch_key)
  );
  CREATE INDEX IF NOT EXISTS audit_batches_expiry ON audit_batches (expires_at);`;

type StoredEntry = AuditAppend["entries"][number];

/** A stream id `<ms>-<seq>` as its two numbers (the route validated its shape). */
function streamId(id: string): [number, number] {
  const [ms, seq] = id.split("-").map(Number) as [number, number];
  return [ms, seq];
}

/** The audit log in the embedded database, per instance. */
export class EmbeddedAuditStore implements AuditStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Deletes remembered batches older than a day. */
  sweep(now: number): void {
    this.#db.write(() => this.#db.run("DELETE FROM audit_batches WHERE expires_at <= ?", now));
  }

  /** Stream ids like Redis': `<ms>-<seq>`, strictly increasing even if the clock steps back. */
  async append(instance: string, input: AuditAppend): Promise<string[]> {
    return this.#db.write(() => {
      const now = input.now;
      if (input.batchKey !== undefined) {
        const previous = this.#db.get<{ ids: string }>(
          "SELECT ids FROM audit_batches WHERE instance = ? AND batch_key = ? AND expires_at > ?",
          instance,
          input.batchKey,
          now,
        );
        if (previous) return JSON.parse(previous.ids) as string[];
      }
      const stream = this.#db.get<{ length: number; last_ms: number; last_seq: number }>(
        "SELECT length, last_ms, last_seq FROM audit_streams WHERE instance = ?",
        instance,
      );
      let length = stream?.length ?? 0;
      let last = stream === undefined ? undefined : { ms: stream.last_ms, seq: stream.last_seq };
      const ids: string[] = [];
      for (const entry of input.entries) {
        const ms = last && last.ms >= now ? last.ms : now;
        const seq = last && last.ms === ms ? last.seq + 1 : 0;
        this.#db.run(
          "INSERT INTO audit (instance, ms, seq, entry) VALUES (?, ?, ?, ?)",
          instance,
          ms,
          seq,
          JSON.stringify(entry),
        );
        ids.push(`${ms}-${seq}`);
        last = { ms, seq };
        length += 1;
      }
      if (length > input.maxLength) {
        this.#db.run(
          `DELETE FROM audit WHERE rowid IN
             (SELECT rowid FROM audit WHERE instance = ? ORDER BY ms, seq LIMIT ?)`,
          instance,
          length - input.maxLength,
        );
        length = input.maxLength;
      }
      if (last !== undefined) {
        this.#db.run(
          "INSERT OR REPLACE INTO audit_streams (instance, length, last_ms, last_seq) VALUES (?, ?, ?, ?)",
          instance,
          length,
          last.ms,
          last.seq,
        );
      }
      if (input.batchKey !== undefined) {
        this.#db.run(
          "INSERT OR REPLACE INTO audit_batches (instance, batch_key, ids, expires_at) VALUES (?, ?, ?, ?)",
          instance,
          input.batchKey,
          JSON.stringify(ids),
          now + DAY_MS,
        );
      }
      return ids;
    });
  }

  async read(instance: string, range: AuditRange): Promise<AuditEntry[]> {
    const [afterMs, afterSeq] = range.after === undefined ? [-1, 0] : streamId(range.after);
    const [beforeMs, beforeSeq] = range.before === undefined ? [Number.MAX_SAFE_INTEGER, 0] : streamId(range.before);
    const rows = this.#db.read(() =>
      this.#db.all<{ ms: number; seq: number; entry: string }>(
        `SELECT ms, seq, entry FROM audit WHERE instance = ? AND (ms, seq) > (?, ?) AND (ms, seq) < (?, ?)
         ORDER BY ms ${range.order === "desc" ? "DESC" : "ASC"}, seq ${range.order === "desc" ? "DESC" : "ASC"}
         LIMIT ?`,
        instance,
        afterMs,
        afterSeq,
        beforeMs,
        beforeSeq,
        range.limit,
      ),
    );
    return rows.map((row) => {
      const entry = JSON.parse(row.entry) as StoredEntry;
      return {
        id: `${row.ms}-${row.seq}`,
        at: row.ms,
        type: entry.type,
        ...(entry.runId === undefined ? {} : { runId: entry.runId }),
        by: entry.by,
        data: entry.data as AuditEntry["data"],
      };
    });
  }
}
