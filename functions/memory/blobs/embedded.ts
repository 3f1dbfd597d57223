import type { Database } from "../embedded/database.ts";
import type { BlobStore, BlobWrite } from "./store.ts";

/**
 * Each run's blobs by digest, and per run how long they are kept without a live run (the run retention after the
 * last write). Whether the run lives is read from the runs table (runs/embedded.ts) in the same database.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS run_blobs (
    instance TEXT NOT NULL,
    run_id TEXT NOT NULL,
    orphan_until INTEGER NOT NULL,
    PRIMARY KEY (instance, run_id)
  );
  CREATE TABLE IF NOT EXISTS blobs (
    instance TEXT NOT NULL,
    run_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (instance, run_id, sha256)
  );`;

/** A run_blobs row whose blobs are visible at `?` (bound twice): its run lives, or it is within its own retention. */
const ALIVE = `(orphan_until > ? OR EXISTS (SELECT 1 FROM runs WHERE runs.id = run_blobs.run_id
  AND runs.instance = run_blobs.instance AND (runs.expires_at IS NULL OR runs.expires_at > ?)))`;

/** Run blobs in the embedded database: alive while their run is, or within the retention of their last write. */
export class EmbeddedBlobStore implements BlobStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  async put(instance: string, runId: string, input: BlobWrite): Promise<void> {
    this.#db.write(() => {
      this.#db.run(
        `INSERT INTO run_blobs (instance, run_id, orphan_until) VALUES (?, ?, ?)
         ON CONFLICT (instance, run_id) DO UPDATE SET orphan_until = excluded.orphan_until`,
        instance,
        runId,
        input.now + input.retentionMs,
      );
      this.#db.run(
        "INSERT OR REPLACE INTO blobs (instance, run_id, sha256, content) VALUES (?, ?, ?, ?)",
        instance,
        runId,
        input.sha256,
        input.content,
      );
    });
  }

  async get(instance: string, runId: string, sha256: string, now: number): Promise<string | undefined> {
    return this.#db.read(() => {
      const alive = this.#db.get(
        `SELECT 1 FROM run_blobs WHERE instance = ? AND run_id = ? AND ${ALIVE}`,
        instance,
        runId,
        now,
        now,
      );
      if (alive === undefined) return undefined;
      return this.#db.get<{ content: string }>(
        "SELECT content FROM blobs WHERE instance = ? AND run_id = ? AND sha256 = ?",
        instance,
        runId,
        sha256,
      )?.content;
    });
  }

  /** Deletes the blobs of runs that are gone (they are invisible already). */
  sweep(now: number): void {
    this.#db.write(() => {
      this.#db.run(
        `DELETE FROM blobs WHERE (instance, run_id) IN
           (SELECT instance, run_id FROM run_blobs WHERE NOT ${ALIVE})`,
        now,
        now,
      );
      this.#db.run(`DELETE FROM run_blobs WHERE NOT ${ALIVE}`, now, now);
    });
  }
}
