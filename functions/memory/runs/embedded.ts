import type { Run } from "../../../clients/memory/contract/runs.ts";
import type { Database } from "../embedded/database.ts";
import { keysetPage, listMember } from "../paging.ts";
import {
  type CreateRunOutcome,
  isTerminal,
  type RunListing,
  type RunStore,
  type RunUpdate,
  type UpdateRunOutcome,
} from "./store.ts";

/**
 * A run id belongs to one instance, so runs are keyed by id alone (which is also the lookup by id). `member` orders
 * listings (paging.ts); `finished_seq` is the order finished runs are dropped in once there are more than the cap;
 * `run` is the document as answered.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    member TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at INTEGER,
    finished_seq INTEGER,
    last_update_id TEXT,
    run TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS runs_by_instance ON runs (instance, member);
  CREATE INDEX IF NOT EXISTS runs_finished ON runs (finished_seq) WHERE finished_seq IS NOT NULL;
  CREATE INDEX IF NOT EXISTS runs_expiry ON runs (expires_at) WHERE expires_at IS NOT NULL;`;

/** Expired runs are invisible at once and deleted by the next sweep. */
const LIVE = "(expires_at IS NULL OR expires_at > ?)";

interface RunRow {
  instance: string;
  run: string;
  last_update_id: string | null;
}

/**
 * Runs in the embedded database. Finished runs are kept for their retention and, as a bound on the file, at most
 * `maxFinishedRuns` of them across all instances: past that, the runs that finished first are dropped (runs still
 * going are never dropped).
 */
export class EmbeddedRunStore implements RunStore {
  readonly #db: Database;
  readonly #maxFinishedRuns: number;

  constructor(db: Database, options: { maxFinishedRuns: number }) {
    this.#db = db;
    this.#maxFinishedRuns = options.maxFinishedRuns;
    db.exec(SCHEMA);
  }

  /** Deletes finished runs past their retention (they are invisible already). */
  sweep(now: number): void {
    this.#db.write(() => this.#db.run("DELETE FROM runs WHERE expires_at <= ?", now));
  }

  #live(id: string, now: number): RunRow | undefined {
    return this.#db.get<RunRow>(`SELECT instance, run, last_update_id FROM runs WHERE id = ? AND ${LIVE}`, id, now);
  }

  /** Store `run`; a finished one goes to the end of the eviction order, and the oldest finished ones past the cap go. */
  #put(run: Run, lastUpdateId: string | null): void {
    let finishedSeq: number | null = null;
    if (run.expiresAt !== null) {
      const { last } = this.#db.get<{ last: number | null }>("SELECT max(finished_seq) AS last FROM runs")!;
      finishedSeq = (last ?? 0) + 1;
    }
    this.#db.run(
      `INSERT INTO runs (id, instance, member, status, expires_at, finished_seq, last_update_id, run)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, member = excluded.member, status = excluded.status,
         expires_at = excluded.expires_at, finished_seq = excluded.finished_seq,
         last_update_id = excluded.last_update_id, run = excluded.run`,
      run.id,
      run.instance,
      listMember(run.createdAt, run.id),
      run.status,
      run.expiresAt,
      finishedSeq,
      lastUpdateId,
      JSON.stringify(run),
    );
    if (finishedSeq === null) return;
    const { finished } = this.#db.get<{ finished: number }>(
      "SELECT count(*) AS finished FROM runs WHERE finished_seq IS NOT NULL",
    )!;
    if (finished <= this.#maxFinishedRuns) return;
    this.#db.run(
      `DELETE FROM runs WHERE id IN
         (SELECT id FROM runs WHERE finished_seq IS NOT NULL ORDER BY finished_seq LIMIT ?)`,
      finished - this.#maxFinishedRuns,
    );
  }

  async create(instance: string, run: Run): Promise<CreateRunOutcome> {
    return this.#db.write(() => {
      const existing = this.#live(run.id, run.createdAt);
      if (existing) {
        return existing.instance === instance
          ? { kind: "exists", run: JSON.parse(existing.run) as Run }
          : { kind: "conflict" };
      }
      // No run with this id, or only an expired one that the sweep has not deleted yet: this one takes its place.
      this.#put(run, null);
      return { kind: "created", run };
    });
  }

  async get(instance: string, id: string, now: number): Promise<Run | undefined> {
    const row = this.#db.read(() => this.#live(id, now));
    return row?.instance === instance ? (JSON.parse(row.run) as Run) : undefined;
  }

  async find(id: string, now: number): Promise<Run | undefined> {
    const row = this.#db.read(() => this.#live(id, now));
    return row === undefined ? undefined : (JSON.parse(row.run) as Run);
  }

  async update(instance: string, id: string, update: RunUpdate): Promise<UpdateRunOutcome> {
    return this.#db.write(() => {
      const row = this.#live(id, update.now);
      if (row?.instance !== instance) return { kind: "missing" };
      const current = JSON.parse(row.run) as Run;
      if (current.version !== update.expectedVersion) {
        const replay =
          update.updateId !== undefined &&
          row.last_update_id === update.updateId &&
          current.version === update.expectedVersion + 1;
        return replay ? { kind: "ok", run: current } : { kind: "version_mismatch", version: current.version };
      }
      const status = update.status ?? current.status;
      const run: Run = {
        ...current,
        status,
        state: update.state ?? current.state,
        version: current.version + 1,
        updatedAt: update.now,
        expiresAt: isTerminal(status) ? update.now + update.retentionMs : null,
      };
      this.#put(run, update.updateId ?? null);
      return { kind: "ok", run };
    });
  }

  async list(instance: string, input: RunListing): Promise<{ runs: Run[]; next: string | null }> {
    const rows = this.#db.read(() =>
      this.#db.all<{ member: string; run: string }>(
        `SELECT member, run FROM runs
         WHERE instance = ? AND ${LIVE} AND (? IS NULL OR status = ?) AND (? IS NULL OR member < ?)
         ORDER BY member DESC LIMIT ?`,
        instance,
        input.now,
        input.status ?? null,
        input.status ?? null,
        input.after ?? null,
        input.after ?? null,
        input.limit + 1,
      ),
    );
    const { shown, next } = keysetPage(rows, input.limit, (row) => row.member);
    return { runs: shown.map((row) => JSON.parse(row.run) as Run), next };
  }
}
