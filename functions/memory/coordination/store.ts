import type {
  AcquireLockResponse,
  ConsumeBudgetResponse,
  DedupResponse,
  LockStateResponse,
  ReleaseLockResponse,
  RenewLockResponse,
  ValueResponse,
} from "../../../clients/memory/contract/coordination.ts";

/**
 * What callers coordinate through: dedup claims and key/values with a TTL (in an instance's key space or a component
 * namespace), budgets consumed all or nothing, and locks with fencing tokens.
 */
export interface CoordinationStore {
  claim(space: Space, input: ClaimInput): Promise<DedupResponse>;
  getValue(space: Space, key: string, now: number): Promise<ValueResponse | undefined>;
  putValue(space: Space, key: string, value: string, ttlMs: number, now: number): Promise<void>;
  deleteValue(space: Space, key: string, now: number): Promise<boolean>;
  consumeBudget(instance: string, name: string, input: BudgetInput): Promise<ConsumeBudgetResponse>;
  acquireLock(instance: string, name: string, input: LockInput): Promise<AcquireLockResponse>;
  renewLock(instance: string, name: string, input: LockInput & { token: number }): Promise<RenewLockResponse>;
  releaseLock(
    instance: string,
    name: string,
    input: { owner: string; token: number; now: number },
  ): Promise<ReleaseLockResponse>;
  getLock(instance: string, name: string, now: number): Promise<LockStateResponse>;
}

/** Dedup and key/values live in an instance's key space or in a component namespace (e.g. `slack`). */
export type Space = { kind: "instance"; name: string } | { kind: "namespace"; name: string };

export interface ClaimInput {
  key: string;
  ttlMs: number;
  claim?: string;
  value?: string;
  now: number;
}

export interface BudgetInput {
  amount: number;
  limit: number;
  windowMs?: number;
  ttlMs?: number;
  requestId?: string;
  now: number;
}

export interface LockInput {
  owner: string;
  ttlMs: number;
  now: number;
}
