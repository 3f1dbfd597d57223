import { randomBytes } from "node:crypto";
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
import { guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { ACQUIRE_LOCK, CLAIM, CONSUME_BUDGET, GET_LOCK, GET_VALUE, RELEASE_LOCK, RENEW_LOCK } from "./lua.ts";
import type { BudgetInput, ClaimInput, CoordinationStore, LockInput, Space } from "./store.ts";
import { decodeEntry, encodeEntry } from "./stored-entry.ts";

const claimScript = new Script(CLAIM);
const getValueScript = new Script(GET_VALUE, { readOnly: true });
const consume = new Script(CONSUME_BUDGET);
const acquire = new Script(ACQUIRE_LOCK);
const renew = new Script(RENEW_LOCK);
const release = new Script(RELEASE_LOCK);
const inspect = new Script(GET_LOCK, { readOnly: true });

/** Dedup, key/values, budgets and locks on Redis (scripts in lua.ts). */
export class RedisCoordinationStore implements CoordinationStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async claim(space: Space, input: ClaimInput): Promise<DedupResponse> {
    const reply = await claimScript.run<[number, string?]>(
      this.#ctx.client,
      [this.#ctx.keys.value(space, input.key)],
      [encodeEntry(input.claim, input.value), input.ttlMs],
    );
    if (reply[0] === 1) return { firstSeen: true, value: input.value ?? null };
    const stored = decodeEntry(reply[1]!);
    return { firstSeen: input.claim !== undefined && stored.claim === input.claim, value: stored.value };
  }

  async getValue(space: Space, key: string, now: number): Promise<ValueResponse | undefined> {
    const reply = await getValueScript.run<[] | [string, number]>(
      this.#ctx.client,
      [this.#ctx.keys.value(space, key)],
      [],
    );
    if (reply.length === 0) return undefined;
    return { value: decodeEntry(reply[0]).value, expiresAt: reply[1] > 0 ? now + reply[1] : null };
  }

  async putValue(space: Space, key: string, value: string, ttlMs: number) {
    await guard(() =>
      this.#ctx.client.set(this.#ctx.keys.value(space, key), encodeEntry(undefined, value), "PX", ttlMs),
    );
  }

  async deleteValue(space: Space, key: string): Promise<boolean> {
    return (await guard(() => this.#ctx.client.del(this.#ctx.keys.value(space, key)))) === 1;
  }

  async consumeBudget(instance: string, name: string, input: BudgetInput): Promise<ConsumeBudgetResponse> {
    const { keys } = this.#ctx;
    const decision = await consume.run<string>(
      this.#ctx.client,
      [
        keys.budgetLog(instance, name),
        keys.budgetSum(instance, name),
        keys.budgetTotal(instance, name),
        keys.budgetDecision(instance, input.requestId ?? "", name),
      ],
      [
        input.now,
        input.amount,
        input.limit,
        input.windowMs ?? 0,
        input.ttlMs ?? 0,
        input.requestId ?? "",
        randomBytes(8).toString("hex"),
        input.windowMs ?? input.ttlMs ?? DAY_MS,
      ],
    );
    const [allowed, used, resetAt] = decision.split("|").map(Number) as [number, number, number];
    return {
      allowed: allowed === 1,
      used,
      remaining: Math.max(0, input.limit - used),
      limit: input.limit,
      resetAt: resetAt < 0 ? null : resetAt,
    };
  }

  async acquireLock(instance: string, name: string, input: LockInput): Promise<AcquireLockResponse> {
    const [acquired, token, ttl] = await acquire.run<[number, number, number]>(
      this.#ctx.client,
      [this.#ctx.keys.lock(instance, name), this.#ctx.keys.fence(instance, name)],
      [input.owner, input.ttlMs],
    );
    const expiresAt = input.now + Math.max(ttl, 0);
    return acquired === 1 ? { acquired: true, token, expiresAt } : { acquired: false, expiresAt };
  }

  async renewLock(instance: string, name: string, input: LockInput & { token: number }): Promise<RenewLockResponse> {
    const renewed = await renew.run<number>(
      this.#ctx.client,
      [this.#ctx.keys.lock(instance, name)],
      [input.owner, String(input.token), input.ttlMs],
    );
    return renewed === 1 ? { renewed: true, expiresAt: input.now + input.ttlMs } : { renewed: false, expiresAt: null };
  }

  async releaseLock(
    instance: string,
    name: string,
    input: { owner: string; token: number },
  ): Promise<ReleaseLockResponse> {
    const released = await release.run<number>(
      this.#ctx.client,
      [this.#ctx.keys.lock(instance, name)],
      [input.owner, String(input.token)],
    );
    return { released: released === 1 };
  }

  async getLock(instance: string, name: string, now: number): Promise<LockStateResponse> {
    const reply = await inspect.run<[] | [string, number, number]>(
      this.#ctx.client,
      [this.#ctx.keys.lock(instance, name)],
      [],
    );
    if (reply.length === 0) return { held: false };
    return { held: true, owner: reply[0], token: reply[1], expiresAt: now + Math.max(reply[2], 0) };
  }
}
