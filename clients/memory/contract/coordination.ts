import { z } from "zod";
import { DAY_MS, dnsLabel, IdempotencyKey, Millis, printable, TimestampMs } from "./fields.ts";

/** Coordination: dedup claims and key/values (in an instance or a namespace), budgets and fenced locks. */

/** A component-wide key space for dedup and key/values that belong to no instance (e.g. `slack`). */
export const NamespaceName = dnsLabel;
/** Budget and lock names: `tokens:daily`, `run:abc:tool-calls`, `schedule:nightly`. */
export const ResourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, "letters, digits, '.', '_', ':' and '-'");
export const DedupKey = printable(512);
const LockOwner = printable(200);

export const DedupRequest = z.strictObject({
  key: DedupKey,
  ttlMs: Millis(30 * DAY_MS),
  /**
   * Who claims the key. A retried claim (same key, same claim) answers firstSeen again instead of "duplicate", so a
   * timeout after the key was stored cannot make the caller drop its own event.
   */
  claim: IdempotencyKey.optional(),
  value: z.string().max(4096).optional(),
});
export type DedupRequest = z.infer<typeof DedupRequest>;

export const DedupResponse = z.object({
  firstSeen: z.boolean(),
  /** The stored value (the first claimant's). */
  value: z.string().nullable(),
});
export type DedupResponse = z.infer<typeof DedupResponse>;

export const PutValueRequest = z.strictObject({ value: z.string().max(65_536), ttlMs: Millis(30 * DAY_MS) });
export type PutValueRequest = z.infer<typeof PutValueRequest>;

/** `value` is null for a key claimed without a value. */
export const ValueResponse = z.object({ value: z.string().nullable(), expiresAt: TimestampMs.nullable() });
export type ValueResponse = z.infer<typeof ValueResponse>;

export const DeleteValueResponse = z.object({ deleted: z.boolean() });
export type DeleteValueResponse = z.infer<typeof DeleteValueResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------------------------

export const ConsumeBudgetRequest = z
  .strictObject({
    /** 0 reads the budget without consuming. All or nothing: never part of an amount. */
    amount: z.int().min(0).max(1_000_000_000_000),
    limit: z.int().min(0).max(1_000_000_000_000),
    /** Sliding window: the sum consumed in any `windowMs` never exceeds `limit`. Without it the budget is a total. */
    windowMs: Millis(366 * DAY_MS).optional(),
    /** Total budgets only: forget the total after this long (e.g. a per-run budget). */
    ttlMs: Millis(366 * DAY_MS).optional(),
    /** Makes a retried consume harmless: the same requestId answers the first decision without consuming again. */
    requestId: IdempotencyKey.optional(),
  })
  .refine((body) => !(body.windowMs !== undefined && body.ttlMs !== undefined), {
    message: "give windowMs or ttlMs, not both",
    path: ["ttlMs"],
  });
export type ConsumeBudgetRequest = z.infer<typeof ConsumeBudgetRequest>;

export const ConsumeBudgetResponse = z.object({
  allowed: z.boolean(),
  /** Consumed so far in the window (including this amount when allowed). */
  used: z.int().min(0),
  remaining: z.int().min(0),
  limit: z.int().min(0),
  /** When some of the consumed amount is given back (window) or the total is forgotten (ttl). */
  resetAt: TimestampMs.nullable(),
});
export type ConsumeBudgetResponse = z.infer<typeof ConsumeBudgetResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------------------------------------

export const AcquireLockRequest = z.strictObject({ owner: LockOwner, ttlMs: Millis(DAY_MS) });
export type AcquireLockRequest = z.infer<typeof AcquireLockRequest>;

export const AcquireLockResponse = z.discriminatedUnion("acquired", [
  /** `token` is the fencing token: it increases with every acquisition of this lock, forever. */
  z.object({ acquired: z.literal(true), token: z.int().min(1), expiresAt: TimestampMs }),
  z.object({ acquired: z.literal(false), expiresAt: TimestampMs }),
]);
export type AcquireLockResponse = z.infer<typeof AcquireLockResponse>;

export const RenewLockRequest = z.strictObject({ owner: LockOwner, token: z.int().min(1), ttlMs: Millis(DAY_MS) });
export type RenewLockRequest = z.infer<typeof RenewLockRequest>;

export const RenewLockResponse = z.object({ renewed: z.boolean(), expiresAt: TimestampMs.nullable() });
export type RenewLockResponse = z.infer<typeof RenewLockResponse>;

export const ReleaseLockRequest = z.strictObject({ owner: LockOwner, token: z.int().min(1) });
export type ReleaseLockRequest = z.infer<typeof ReleaseLockRequest>;

export const ReleaseLockResponse = z.object({ released: z.boolean() });
export type ReleaseLockResponse = z.infer<typeof ReleaseLockResponse>;

export const LockStateResponse = z.discriminatedUnion("held", [
  z.object({ held: z.literal(true), owner: LockOwner, token: z.int().min(1), expiresAt: TimestampMs }),
  z.object({ held: z.literal(false) }),
]);
export type LockStateResponse = z.infer<typeof LockStateResponse>;
