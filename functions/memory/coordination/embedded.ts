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
import { type Expiring, live, stateOf, sweepExpired } from "../embedded/maps.ts";
import type { BudgetInput, ClaimInput, CoordinationStore, LockInput, Space } from "./store.ts";
import { decodeEntry, encodeEntry } from "./stored-entry.ts";

/** Dedup and key/value entries of one key space, stored as stored-entry.ts encodes them. */
type Values = Map<string, Expiring<string>>;

interface BudgetLog {
  entries: Array<{ at: number; amount: number }>;
  sum: number;
}

interface LockState {
  owner: string;
  token: number;
}

/** An instance's budgets and locks. */
interface InstanceState {
  windowBudgets: Map<string, Expiring<BudgetLog>>;
  totalBudgets: Map<string, Expiring<number>>;
  /** `<requestId>:<budget>` -> the decision's JSON. */
  budgetDecisions: Map<string, Expiring<string>>;
  locks: Map<string, Expiring<LockState>>;
  /** The last fencing token of each lock; never expires. */
  fences: Map<string, number>;
}

function newInstanceState(): InstanceState {
  return {
    windowBudgets: new Map(),
    totalBudgets: new Map(),
    budgetDecisions: new Map(),
    locks: new Map(),
    fences: new Map(),
  };
}

function liveLock(state: InstanceState, name: string, now: number): Expiring<LockState> | undefined {
  return live(state.locks, name, now);
}

/** Dedup, key/values, budgets and locks in process. */
export class EmbeddedCoordinationStore implements CoordinationStore {
  /** Keyed by `<kind>:<name>` of the space. */
  readonly #spaces = new Map<string, Values>();
  readonly #instances = new Map<string, InstanceState>();

  #values(space: Space): Values {
    return stateOf(this.#spaces, `${space.kind}:${space.name}`, () => new Map());
  }

  #of(instance: string): InstanceState {
    return stateOf(this.#instances, instance, newInstanceState);
  }

  /** Frees expired entries, budgets, decisions and locks (they are invisible already). */
  sweep(now: number): void {
    for (const values of this.#spaces.values()) sweepExpired(values, now);
    for (const state of this.#instances.values()) {
      sweepExpired(state.windowBudgets, now);
      sweepExpired(state.totalBudgets, now);
      sweepExpired(state.budgetDecisions, now);
      sweepExpired(state.locks, now);
    }
  }

  async claim(space: Space, input: ClaimInput): Promise<DedupResponse> {
    const values = this.#values(space);
    const existing = live(values, input.key, input.now);
    if (existing) {
      const stored = decodeEntry(existing.value);
      const sameClaim = input.claim !== undefined && stored.claim === input.claim;
      return { firstSeen: sameClaim, value: stored.value };
    }
    values.set(input.key, { value: encodeEntry(input.claim, input.value), expiresAt: input.now + input.ttlMs });
    return { firstSeen: true, value: input.value ?? null };
  }

  async getValue(space: Space, key: string, now: number): Promise<ValueResponse | undefined> {
    const values = this.#values(space);
    const entry = live(values, key, now);
    if (!entry) return undefined;
    return { value: decodeEntry(entry.value).value, expiresAt: entry.expiresAt };
  }

  async putValue(space: Space, key: string, value: string, ttlMs: number, now: number): Promise<void> {
    const values = this.#values(space);
    values.set(key, { value: encodeEntry(undefined, value), expiresAt: now + ttlMs });
  }

  async deleteValue(space: Space, key: string, now: number): Promise<boolean> {
    const values = this.#values(space);
    const existed = live(values, key, now) !== undefined;
    values.delete(key);
    return existed;
  }

  /** All or nothing against the limit: a sliding window log when `windowMs` is given, else a running total. */
  async consumeBudget(instance: string, name: string, input: BudgetInput): Promise<ConsumeBudgetResponse> {
    const state = this.#of(instance);
    const { now, amount, limit } = input;
    const decisionKey = input.requestId === undefined ? undefined : `${input.requestId}:${name}`;
    if (decisionKey !== undefined) {
      const previous = live(state.budgetDecisions, decisionKey, now);
      if (previous) return JSON.parse(previous.value) as ConsumeBudgetResponse;
    }
    let used: number;
    let allowed: boolean;
    let resetAt: number | null;
    if (input.windowMs !== undefined) {
      const windowMs = input.windowMs;
      const log = live(state.windowBudgets, name, now)?.value ?? { entries: [], sum: 0 };
      while (log.entries.length > 0 && log.entries[0]!.at <= now - windowMs) log.sum -= log.entries.shift()!.amount;
      allowed = log.sum + amount <= limit;
      if (allowed && amount > 0) {
        log.entries.push({ at: now, amount });
        log.sum += amount;
      }
      used = log.sum;
      resetAt = log.entries.length > 0 ? log.entries[0]!.at + windowMs : null;
      if (log.entries.length > 0) state.windowBudgets.set(name, { value: log, expiresAt: now + windowMs });
      else state.windowBudgets.delete(name);
    } else {
      const total = live(state.totalBudgets, name, now);
      const current = total?.value ?? 0;
      allowed = current + amount <= limit;
      used = current;
      let expiresAt = total?.expiresAt ?? Number.POSITIVE_INFINITY;
      if (allowed && amount > 0) {
        used = current + amount;
        if (!total && input.ttlMs !== undefined) expiresAt = now + input.ttlMs;
        state.totalBudgets.set(name, { value: used, expiresAt });
      }
      resetAt = Number.isFinite(expiresAt) && used > 0 ? expiresAt : null;
    }
    const decision: ConsumeBudgetResponse = { allowed, used, remaining: Math.max(0, limit - used), limit, resetAt };
    if (decisionKey !== undefined) {
      const keep = input.windowMs ?? input.ttlMs ?? DAY_MS;
      state.budgetDecisions.set(decisionKey, { value: JSON.stringify(decision), expiresAt: now + keep });
    }
    return decision;
  }

  async acquireLock(instance: string, name: string, input: LockInput): Promise<AcquireLockResponse> {
    const state = this.#of(instance);
    const held = liveLock(state, name, input.now);
    if (held) {
      if (held.value.owner !== input.owner) return { acquired: false, expiresAt: held.expiresAt };
      // The holder asking again (a retried acquire) keeps its token and extends the lease.
      held.expiresAt = input.now + input.ttlMs;
      return { acquired: true, token: held.value.token, expiresAt: held.expiresAt };
    }
    const token = (state.fences.get(name) ?? 0) + 1;
    state.fences.set(name, token);
    const expiresAt = input.now + input.ttlMs;
    state.locks.set(name, { value: { owner: input.owner, token }, expiresAt });
    return { acquired: true, token, expiresAt };
  }

  async renewLock(instance: string, name: string, input: LockInput & { token: number }): Promise<RenewLockResponse> {
    const state = this.#of(instance);
    const held = liveLock(state, name, input.now);
    if (!held || held.value.owner !== input.owner || held.value.token !== input.token) {
      return { renewed: false, expiresAt: null };
    }
    held.expiresAt = input.now + input.ttlMs;
    return { renewed: true, expiresAt: held.expiresAt };
  }

  async releaseLock(
    instance: string,
    name: string,
    input: { owner: string; token: number; now: number },
  ): Promise<ReleaseLockResponse> {
    const state = this.#of(instance);
    const held = liveLock(state, name, input.now);
    if (!held || held.value.owner !== input.owner || held.value.token !== input.token) return { released: false };
    state.locks.delete(name);
    return { released: true };
  }

  async getLock(instance: string, name: string, now: number): Promise<LockStateResponse> {
    const state = this.#of(instance);
    const held = liveLock(state, name, now);
    if (!held) return { held: false };
    return { held: true, owner: held.value.owner, token: held.value.token, expiresAt: held.expiresAt };
  }
}
