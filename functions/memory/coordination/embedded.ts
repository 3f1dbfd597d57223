import type {
  AcquireLockResponse,
  ConsumeBudgetResponse,
  DedupResponse,
  LockStateResponse,
  ReleaseLockResponse,
  RenewLockResponse,
  ValueResponse,
} from "../../../clients/memory/contract/coordination.ts";
import { DAY_MS } from "../../../clients/memory/contract/fields.ts";
import type { Database } from "../embedded/database.ts";
import type { BudgetInput, ClaimInput, CoordinationStore, LockInput, Space } from "./store.ts";
import { decodeEntry, encodeEntry } from "./stored-entry.ts";

/**
 * Every table here holds expiring rows (`expires_at` in ms; invisible once passed, deleted by the sweep), except the
 * fencing tokens, which never expire so that a lock's next token is always larger than any before.
 *
 * - values: dedup and key/value entries of a key space (`<kind>:<name>`), stored as stored-entry.ts encodes them;
 * - budget_windows and budget_log: a sliding-window budget and the log of what it let through (`at`, `amount`);
 * - budget_totals: a running-total budget;
 * - budget_decisions: the answer given to a request id, so a retried consume is answered again, not applied again;
 * - locks and lock_fences: leases and the last fencing token of each lock.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv_values (
    space TEXT NOT NULL,
    key TEXT NOT NULL,
    entry TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (space, key)
  );
  CREATE INDEX IF NOT EXISTS kv_values_expiry ON kv_values (expires_at);
  CREATE TABLE IF NOT EXISTS budget_windows (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (instance, name)
  );
  CREATE TABLE IF NOT EXISTS budget_log (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    amount INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS budget_log_by_budget ON budget_log (instance, name, at);
  CREATE TABLE IF NOT EXISTS budget_totals (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    used INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (instance, name)
  );
  CREATE TABLE IF NOT EXISTS budget_decisions (
    instance TEXT NOT NULL,
    key TEXT NOT NULL,
    decision TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (instance, key)
  );
  CREATE INDEX IF NOT EXISTS budget_decisions_expiry ON budget_decisions (expires_at);
  CREATE TABLE IF NOT EXISTS locks (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (instance, name)
  );
  CREATE TABLE IF NOT EXISTS lock_fences (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    token INTEGER NOT NULL,
    PRIMARY KEY (instance, name)
  );`;

interface LockRow {
  owner: string;
  token: number;
  expires_at: number;
}

const spaceKey = (space: Space) => `${space.kind}:${space.name}`;

/** Dedup, key/values, budgets and locks in the embedded database. */
export class EmbeddedCoordinationStore implements CoordinationStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Deletes expired entries, budgets, decisions and locks (they are invisible already). */
  sweep(now: number): void {
    this.#db.write(() => {
      this.#db.run("DELETE FROM kv_values WHERE expires_at <= ?", now);
      this.#db.run(
        `DELETE FROM budget_log WHERE (instance, name) IN
           (SELECT instance, name FROM budget_windows WHERE expires_at <= ?)`,
        now,
      );
      this.#db.run("DELETE FROM budget_windows WHERE expires_at <= ?", now);
      this.#db.run("DELETE FROM budget_totals WHERE expires_at <= ?", now);
      this.#db.run("DELETE FROM budget_decisions WHERE expires_at <= ?", now);
      this.#db.run("DELETE FROM locks WHERE expires_at <= ?", now);
    });
  }

  #liveValue(space: Space, key: string, now: number): { entry: string; expires_at: number } | undefined {
    return this.#db.get(
      "SELECT entry, expires_at FROM kv_values WHERE space = ? AND key = ? AND expires_at > ?",
      spaceKey(space),
      key,
      now,
    );
  }

  #setValue(space: Space, key: string, entry: string, expiresAt: number): void {
    this.#db.run(
      "INSERT OR REPLACE INTO kv_values (space, key, entry, expires_at) VALUES (?, ?, ?, ?)",
      spaceKey(space),
      key,
      entry,
      expiresAt,
    );
  }

  async claim(space: Space, input: ClaimInput): Promise<DedupResponse> {
    return this.#db.write(() => {
      const existing = this.#liveValue(space, input.key, input.now);
      if (existing) {
        const stored = decodeEntry(existing.entry);
        const sameClaim = input.claim !== undefined && stored.claim === input.claim;
        return { firstSeen: sameClaim, value: stored.value };
      }
      this.#setValue(space, input.key, encodeEntry(input.claim, input.value), input.now + input.ttlMs);
      return { firstSeen: true, value: input.value ?? null };
    });
  }

  async getValue(space: Space, key: string, now: number): Promise<ValueResponse | undefined> {
    const row = this.#db.read(() => this.#liveValue(space, key, now));
    return row && { value: decodeEntry(row.entry).value, expiresAt: row.expires_at };
  }

  async putValue(space: Space, key: string, value: string, ttlMs: number, now: number): Promise<void> {
    this.#db.write(() => this.#setValue(space, key, encodeEntry(undefined, value), now + ttlMs));
  }

  async deleteValue(space: Space, key: string, now: number): Promise<boolean> {
    return this.#db.write(() => {
      const existed = this.#liveValue(space, key, now) !== undefined;
      this.#db.run("DELETE FROM kv_values WHERE space = ? AND key = ?", spaceKey(space), key);
      return existed;
    });
  }

  /** All or nothing against the limit: a sliding window log when `windowMs` is given, else a running total. */
  async consumeBudget(instance: string, name: string, input: BudgetInput): Promise<ConsumeBudgetResponse> {
    return this.#db.write(() => {
      const { now, limit } = input;
      const decisionKey = input.requestId === undefined ? undefined : `${input.requestId}:${name}`;
      if (decisionKey !== undefined) {
        const previous = this.#db.get<{ decision: string }>(
          "SELECT decision FROM budget_decisions WHERE instance = ? AND key = ? AND expires_at > ?",
          instance,
          decisionKey,
          now,
        );
        if (previous) return JSON.parse(previous.decision) as ConsumeBudgetResponse;
      }
      const { allowed, used, resetAt } =
        input.windowMs === undefined
          ? this.#consumeTotal(instance, name, input)
          : this.#consumeWindow(instance, name, input, input.windowMs);
      const decision: ConsumeBudgetResponse = { allowed, used, remaining: Math.max(0, limit - used), limit, resetAt };
      if (decisionKey !== undefined) {
        const keep = input.windowMs ?? input.ttlMs ?? DAY_MS;
        this.#db.run(
          "INSERT OR REPLACE INTO budget_decisions (instance, key, decision, expires_at) VALUES (?, ?, ?, ?)",
          instance,
          decisionKey,
          JSON.stringify(decision),
          now + keep,
        );
      }
      return decision;
    });
  }

  /** The log holds what the window let through; a budget idle for a whole window starts empty. */
  #consumeWindow(instance: string, name: string, input: BudgetInput, windowMs: number) {
    const { now, amount, limit } = input;
    const window = this.#db.get<{ expires_at: number }>(
      "SELECT expires_at FROM budget_windows WHERE instance = ? AND name = ?",
      instance,
      name,
    );
    if (window === undefined || window.expires_at <= now) {
      this.#db.run("DELETE FROM budget_log WHERE instance = ? AND name = ?", instance, name);
    } else {
      this.#db.run(
        "DELETE FROM budget_log WHERE instance = ? AND name = ? AND at <= ?",
        instance,
        name,
        now - windowMs,
      );
    }
    const { sum } = this.#db.get<{ sum: number }>(
      "SELECT coalesce(sum(amount), 0) AS sum FROM budget_log WHERE instance = ? AND name = ?",
      instance,
      name,
    )!;
    const allowed = sum + amount <= limit;
    if (allowed && amount > 0) {
      this.#db.run(
        "INSERT INTO budget_log (instance, name, at, amount) VALUES (?, ?, ?, ?)",
        instance,
        name,
        now,
        amount,
      );
    }
    const used = allowed ? sum + amount : sum;
    const first = this.#db.get<{ at: number }>(
      "SELECT at FROM budget_log WHERE instance = ? AND name = ? ORDER BY at LIMIT 1",
      instance,
      name,
    );
    if (first === undefined) {
      this.#db.run("DELETE FROM budget_windows WHERE instance = ? AND name = ?", instance, name);
    } else {
      this.#db.run(
        "INSERT OR REPLACE INTO budget_windows (instance, name, expires_at) VALUES (?, ?, ?)",
        instance,
        name,
        now + windowMs,
      );
    }
    return { allowed, used, resetAt: first === undefined ? null : first.at + windowMs };
  }

  /** A total that only grows, expiring `ttlMs` after its first consumption when one is given. */
  #consumeTotal(instance: string, name: string, input: BudgetInput) {
    const { now, amount, limit } = input;
    const total = this.#db.get<{ used: number; expires_at: number | null }>(
      "SELECT used, expires_at FROM budget_totals WHERE instance = ? AND name = ? AND (expires_at IS NULL OR expires_at > ?)",
      instance,
      name,
      now,
    );
    const current = total?.used ?? 0;
    const allowed = current + amount <= limit;
    let used = current;
    let expiresAt = total?.expires_at ?? null;
    if (allowed && amount > 0) {
      used = current + amount;
      if (!total && input.ttlMs !== undefined) expiresAt = now + input.ttlMs;
      this.#db.run(
        "INSERT OR REPLACE INTO budget_totals (instance, name, used, expires_at) VALUES (?, ?, ?, ?)",
        instance,
        name,
        used,
        expiresAt,
      );
    }
    return { allowed, used, resetAt: expiresAt !== null && used > 0 ? expiresAt : null };
  }

  #liveLock(instance: string, name: string, now: number): LockRow | undefined {
    return this.#db.get<LockRow>(
      "SELECT owner, token, expires_at FROM locks WHERE instance = ? AND name = ? AND expires_at > ?",
      instance,
      name,
      now,
    );
  }

  #extend(instance: string, name: string, expiresAt: number): void {
    this.#db.run("UPDATE locks SET expires_at = ? WHERE instance = ? AND name = ?", expiresAt, instance, name);
  }

  async acquireLock(instance: string, name: string, input: LockInput): Promise<AcquireLockResponse> {
    return this.#db.write(() => {
      const held = this.#liveLock(instance, name, input.now);
      const expiresAt = input.now + input.ttlMs;
      if (held) {
        if (held.owner !== input.owner) return { acquired: false, expiresAt: held.expires_at };
        // The holder asking again (a retried acquire) keeps its token and extends the lease.
        this.#extend(instance, name, expiresAt);
        return { acquired: true, token: held.token, expiresAt };
      }
      const fence = this.#db.get<{ token: number }>(
        "SELECT token FROM lock_fences WHERE instance = ? AND name = ?",
        instance,
        name,
      );
      const token = (fence?.token ?? 0) + 1;
      this.#db.run(
        "INSERT OR REPLACE INTO lock_fences (instance, name, token) VALUES (?, ?, ?)",
        instance,
        name,
        token,
      );
      this.#db.run(
        "INSERT OR REPLACE INTO locks (instance, name, owner, token, expires_at) VALUES (?, ?, ?, ?, ?)",
        instance,
        name,
        input.owner,
        token,
        expiresAt,
      );
      return { acquired: true, token, expiresAt };
    });
  }

  async renewLock(instance: string, name: string, input: LockInput & { token: number }): Promise<RenewLockResponse> {
    return this.#db.write(() => {
      const held = this.#liveLock(instance, name, input.now);
      if (!held || held.owner !== input.owner || held.token !== input.token) return { renewed: false, expiresAt: null };
      const expiresAt = input.now + input.ttlMs;
      this.#extend(instance, name, expiresAt);
      return { renewed: true, expiresAt };
    });
  }

  async releaseLock(
    instance: string,
    name: string,
    input: { owner: string; token: number; now: number },
  ): Promise<ReleaseLockResponse> {
    return this.#db.write(() => {
      const held = this.#liveLock(instance, name, input.now);
      if (!held || held.owner !== input.owner || held.token !== input.token) return { released: false };
      this.#db.run("DELETE FROM locks WHERE instance = ? AND name = ?", instance, name);
      return { released: true };
    });
  }

  async getLock(instance: string, name: string, now: number): Promise<LockStateResponse> {
    const held = this.#db.read(() => this.#liveLock(instance, name, now));
    if (!held) return { held: false };
    return { held: true, owner: held.owner, token: held.token, expiresAt: held.expires_at };
  }
}
