import type { Database } from "../embedded/database.ts";
import type {
  AppendInput,
  AppendOutcome,
  CompactInput,
  CompactResult,
  GenerationGuarded,
  OffsetPage,
  ReadInput,
  ResetInput,
  SessionActivity,
  SessionStore,
  StoredWindow,
  TrimInput,
  TrimOutcome,
  WindowRequest,
} from "./store.ts";

/**
 * A session's header. Its messages are rows numbered `head..seq` (sequence numbers increase by one per appended
 * message; trims and compactions remove from the head), and every message id of the generation, trimmed and
 * compacted ones too, is remembered with its number, so a replayed append never duplicates.
 */
interface SessionRow {
  generation: number;
  active_at: number;
  head: number;
  seq: number;
  summary_json: string | null;
  summary_tokens: number;
}

interface MessageRow {
  tokens: number;
  json: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sessions (
    instance TEXT NOT NULL,
    session_key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    active_at INTEGER NOT NULL,
    head INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    summary_json TEXT,
    summary_tokens INTEGER NOT NULL,
    PRIMARY KEY (instance, session_key)
  );
  CREATE INDEX IF NOT EXISTS sessions_by_activity ON sessions (instance, active_at, session_key);
  CREATE TABLE IF NOT EXISTS session_messages (
    instance TEXT NOT NULL,
    session_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (instance, session_key, seq)
  );
  CREATE TABLE IF NOT EXISTS session_ids (
    instance TEXT NOT NULL,
    session_key TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (instance, session_key, id)
  );`;

function emptySession(now: number): SessionRow {
  return { generation: 0, active_at: now, head: 1, seq: 0, summary_json: null, summary_tokens: 0 };
}

const stored = (session: SessionRow) => session.seq - session.head + 1;

const EMPTY_WINDOW = { summaryJson: null, messagesJson: "", count: 0, total: 0, truncated: false };

/** Sessions in the embedded database, per instance. */
export class EmbeddedSessionStore implements SessionStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  #load(instance: string, key: string): SessionRow | undefined {
    return this.#db.get<SessionRow>(
      "SELECT generation, active_at, head, seq, summary_json, summary_tokens FROM sessions WHERE instance = ? AND session_key = ?",
      instance,
      key,
    );
  }

  #save(instance: string, key: string, session: SessionRow): void {
    this.#db.run(
      `INSERT INTO sessions (instance, session_key, generation, active_at, head, seq, summary_json, summary_tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance, session_key) DO UPDATE SET generation = excluded.generation,
         active_at = excluded.active_at, head = excluded.head, seq = excluded.seq,
         summary_json = excluded.summary_json, summary_tokens = excluded.summary_tokens`,
      instance,
      key,
      session.generation,
      session.active_at,
      session.head,
      session.seq,
      session.summary_json,
      session.summary_tokens,
    );
  }

  /** A new generation: no messages, no summary, no remembered ids; numbering goes on. */
  #startOver(instance: string, key: string, session: SessionRow): void {
    this.#db.run("DELETE FROM session_messages WHERE instance = ? AND session_key = ?", instance, key);
    this.#db.run("DELETE FROM session_ids WHERE instance = ? AND session_key = ?", instance, key);
    session.generation += 1;
    session.head = session.seq + 1;
    session.summary_json = null;
    session.summary_tokens = 0;
  }

  /** Drop the stored messages numbered below `head`. */
  #dropBefore(instance: string, key: string, head: number): void {
    this.#db.run(
      "DELETE FROM session_messages WHERE instance = ? AND session_key = ? AND seq < ?",
      instance,
      key,
      head,
    );
  }

  #window(instance: string, key: string, session: SessionRow, spec: WindowRequest): StoredWindow {
    return spec.from === "oldest"
      ? this.#oldest(instance, key, session, spec)
      : this.#newest(instance, key, session, spec);
  }

  /** The newest messages that fit `last` and `maxTokens` (the summary is counted first when there is a budget). */
  #newest(instance: string, key: string, session: SessionRow, spec: WindowRequest): StoredWindow {
    const total = stored(session);
    const rows = this.#db.all<MessageRow>(
      "SELECT tokens, json FROM session_messages WHERE instance = ? AND session_key = ? ORDER BY seq DESC LIMIT ?",
      instance,
      key,
      Math.min(spec.last, total),
    );
    let count = rows.length;
    let summaryJson = session.summary_json;
    if (spec.maxTokens !== undefined) {
      let budget = spec.maxTokens;
      if (summaryJson !== null) {
        if (session.summary_tokens <= budget) budget -= session.summary_tokens;
        else summaryJson = null;
      }
      let fitting = 0;
      while (fitting < count && rows[fitting]!.tokens <= budget) {
        budget -= rows[fitting]!.tokens;
        fitting += 1;
      }
      count = fitting;
    }
    const messagesJson = rows
      .slice(0, count)
      .reverse()
      .map((row) => row.json)
      .join(",");
    return {
      generation: session.generation,
      expired: false,
      summaryJson,
      messagesJson,
      count,
      total,
      truncated: count < total,
    };
  }

  /** The oldest messages within `last` and `maxTokens`, the first one always; the summary whole and not counted. */
  #oldest(instance: string, key: string, session: SessionRow, spec: WindowRequest): StoredWindow {
    const total = stored(session);
    const rows = this.#db.all<MessageRow>(
      "SELECT tokens, json FROM session_messages WHERE instance = ? AND session_key = ? ORDER BY seq LIMIT ?",
      instance,
      key,
      Math.min(spec.last, total),
    );
    let count = rows.length;
    if (spec.maxTokens !== undefined && count > 0) {
      let budget = spec.maxTokens - rows[0]!.tokens;
      count = 1;
      while (count < rows.length && rows[count]!.tokens <= budget) {
        budget -= rows[count]!.tokens;
        count += 1;
      }
    }
    return {
      generation: session.generation,
      expired: false,
      summaryJson: session.summary_json,
      messagesJson: rows
        .slice(0, count)
        .map((row) => row.json)
        .join(","),
      count,
      total,
      truncated: count < total,
    };
  }

  async append(instance: string, key: string, input: AppendInput): Promise<AppendOutcome> {
    return this.#db.write(() => {
      let session = this.#load(instance, key);
      let reset = false;
      if (!session) {
        session = emptySession(input.now);
      } else if (session.active_at < input.resetBefore) {
        this.#startOver(instance, key, session);
        reset = true;
      }
      const duplicates: string[] = [];
      let appended = 0;
      for (const message of input.messages) {
        const known = this.#db.get(
          "SELECT 1 FROM session_ids WHERE instance = ? AND session_key = ? AND id = ?",
          instance,
          key,
          message.id,
        );
        if (known) {
          duplicates.push(message.id);
          continue;
        }
        session.seq += 1;
        this.#db.run(
          "INSERT INTO session_ids (instance, session_key, id, seq) VALUES (?, ?, ?, ?)",
          instance,
          key,
          message.id,
          session.seq,
        );
        this.#db.run(
          "INSERT INTO session_messages (instance, session_key, seq, tokens, json) VALUES (?, ?, ?, ?, ?)",
          instance,
          key,
          session.seq,
          message.tokens,
          message.json,
        );
        appended += 1;
      }
      session.active_at = input.now;
      this.#save(instance, key, session);
      const outcome: AppendOutcome = {
        generation: session.generation,
        reset,
        appended,
        duplicates,
        total: stored(session),
      };
      if (input.window) outcome.window = this.#window(instance, key, session, input.window);
      return outcome;
    });
  }

  async read(instance: string, key: string, input: ReadInput): Promise<StoredWindow> {
    return this.#db.read(() => {
      const session = this.#load(instance, key);
      if (!session) return { generation: 0, expired: false, ...EMPTY_WINDOW };
      if (session.active_at < input.resetBefore)
        return { generation: session.generation, expired: true, ...EMPTY_WINDOW };
      return this.#window(instance, key, session, input.window);
    });
  }

  async trim(instance: string, key: string, input: TrimInput): Promise<GenerationGuarded<TrimOutcome>> {
    return this.#db.write(() => {
      const session = this.#load(instance, key);
      const generation = session?.generation ?? 0;
      if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation) {
        return { ok: false, generation };
      }
      if (!session) return { ok: true, generation, removed: 0, total: 0 };
      const removed = Math.max(0, stored(session) - input.keepLast);
      session.head += removed;
      this.#dropBefore(instance, key, session.head);
      this.#save(instance, key, session);
      return { ok: true, generation, removed, total: stored(session) };
    });
  }

  async compact(instance: string, key: string, input: CompactInput): Promise<CompactResult> {
    return this.#db.write(() => {
      const session = this.#load(instance, key);
      const generation = session?.generation ?? 0;
      if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation) {
        return { kind: "generation_mismatch", generation };
      }
      const through = this.#db.get<{ seq: number }>(
        "SELECT seq FROM session_ids WHERE instance = ? AND session_key = ? AND id = ?",
        instance,
        key,
        input.throughId,
      );
      if (!session || through === undefined) return { kind: "unknown_message" };
      if (through.seq < session.head) {
        return {
          kind: "ok",
          generation,
          removed: 0,
          total: stored(session),
          alreadyCompacted: true,
          summaryJson: session.summary_json,
        };
      }
      const removed = through.seq - session.head + 1;
      session.head = through.seq + 1;
      session.summary_json = input.summaryJson;
      session.summary_tokens = input.summaryTokens;
      this.#dropBefore(instance, key, session.head);
      this.#save(instance, key, session);
      return {
        kind: "ok",
        generation,
        removed,
        total: stored(session),
        alreadyCompacted: false,
        summaryJson: input.summaryJson,
      };
    });
  }

  async reset(instance: string, key: string, input: ResetInput): Promise<GenerationGuarded<{ generation: number }>> {
    return this.#db.write(() => {
      const session = this.#load(instance, key);
      const generation = session?.generation ?? 0;
      if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation) {
        return { ok: false, generation };
      }
      const current = session ?? emptySession(input.now);
      this.#startOver(instance, key, current);
      current.active_at = input.now;
      this.#save(instance, key, current);
      return { ok: true, generation: current.generation };
    });
  }

  /** Most recently active first; equal times in descending key order (as Redis' ZREVRANGE orders them). */
  async list(instance: string, page: OffsetPage): Promise<{ sessions: SessionActivity[]; more: boolean }> {
    const rows = this.#db.read(() =>
      this.#db.all<{ session_key: string; active_at: number }>(
        `SELECT session_key, active_at FROM sessions WHERE instance = ?
         ORDER BY active_at DESC, session_key DESC LIMIT ? OFFSET ?`,
        instance,
        page.limit + 1,
        page.offset,
      ),
    );
    return {
      sessions: rows.slice(0, page.limit).map((row) => ({ sessionKey: row.session_key, activeAt: row.active_at })),
      more: rows.length > page.limit,
    };
  }
}
