import type {
  AcquireLockResponse,
  ConsumeBudgetResponse,
  DedupResponse,
  LockStateResponse,
  ReleaseLockResponse,
  RenewLockResponse,
  ValueResponse,
} from "../../../../clients/memory/schemas.ts";
import type { BudgetInput, ClaimInput, LockInput } from "../backend.ts";
import { DAY_MS, decodeEntry, encodeEntry } from "../shared.ts";
import { type Expiring, type InstanceState, type LockState, live } from "./state.ts";

type Values = Map<string, Expiring<string>>;

export function claim(values: Values, input: ClaimInput): DedupResponse {
  const existing = live(values, input.key, input.now);
  if (existing) {
    const stored = decodeEntry(existing.value);
    const sameClaim = input.claim !== undefined && stored.claim === input.claim;
    return { firstSeen: sameClaim, value: stored.value };
  }
  values.set(input.key, { value: encodeEntry(input.claim, input.value), expiresAt: input.now + input.ttlMs });
  return { firstSeen: true, value: input.value ?? null };
}

export function getValue(values: Values, key: string, now: number): ValueResponse | undefined {
  const entry = live(values, key, now);
  if (!entry) return undefined;
  return { value: decodeEntry(entry.value).value, expiresAt: entry.expiresAt };
}

export function putValue(values: Values, key: string, value: string, ttlMs: number, now: number): void {
  values.set(key, { value: encodeEntry(undefined, value), expiresAt: now + ttlMs });
}

export function deleteValue(values: Values, key: string, now: number): boolean {
  const existed = live(values, key, now) !== undefined;
  values.delete(key);
  return existed;
}

/** All or nothing against the limit: a sliding window log when `windowMs` is given, else a running total. */
export function consumeBudget(state: InstanceState, name: string, input: BudgetInput): ConsumeBudgetResponse {
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

function liveLock(state: InstanceState, name: string, now: number): Expiring<LockState> | undefined {
  return live(state.locks, name, now);
}

export function acquireLock(state: InstanceState, name: string, input: LockInput): AcquireLockResponse {
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

export function renewLock(state: InstanceState, name: string, input: LockInput & { token: number }): RenewLockResponse {
  const held = liveLock(state, name, input.now);
  if (!held || held.value.owner !== input.owner || held.value.token !== input.token) {
    return { renewed: false, expiresAt: null };
  }
  held.expiresAt = input.now + input.ttlMs;
  return { renewed: true, expiresAt: held.expiresAt };
}

export function releaseLock(
  state: InstanceState,
  name: string,
  input: { owner: string; token: number; now: number },
): ReleaseLockResponse {
  const held = liveLock(state, name, input.now);
  if (!held || held.value.owner !== input.owner || held.value.token !== input.token) return { released: false };
  state.locks.delete(name);
  return { released: true };
}

export function getLock(state: InstanceState, name: string, now: number): LockStateResponse {
  const held = liveLock(state, name, now);
  if (!held) return { held: false };
  return { held: true, owner: held.value.owner, token: held.value.token, expiresAt: held.expiresAt };
}
