import { randomBytes } from "node:crypto";
import { guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { ARM_TIMER, CLAIM_DUE_TIMERS, DISARM_TIMER, TIMER_FIRED } from "./lua.ts";
import {
  type ArmResult,
  type ClaimedTimer,
  type StoredTimer,
  type TimerKey,
  type TimerStore,
  timerMember,
} from "./store.ts";

const arm = new Script(ARM_TIMER);
const disarm = new Script(DISARM_TIMER);
const fired = new Script(TIMER_FIRED);
const claim = new Script(CLAIM_DUE_TIMERS);

/** How a timer is kept in the entries hash: the timer and the arming it belongs to. */
type Entry = StoredTimer & { armId: string };

function decode(value: string): ClaimedTimer {
  const { armId, ...timer } = JSON.parse(value) as Entry;
  return { timer, armId };
}

/** Timers on Redis (scripts in lua.ts, keys in redis/keys.ts). */
export class RedisTimerStore implements TimerStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async arm(timer: StoredTimer, maxPerInstance: number): Promise<ArmResult> {
    const entry: Entry = { ...timer, armId: randomBytes(8).toString("hex") };
    const reply = await arm.run<[number, string?]>(this.#ctx.client, this.#ctx.keys.timerKeys(), [
      timerMember(timer),
      JSON.stringify(entry),
      timer.dueAt,
      timer.version ?? "",
      timer.instance,
      maxPerInstance,
    ]);
    if (reply[0] === 1) return { outcome: "armed" };
    if (reply[0] === 2) return { outcome: "capped" };
    return { outcome: "stale", stored: decode(reply[1]!).timer };
  }

  async get(key: TimerKey): Promise<StoredTimer | undefined> {
    const [, entries] = this.#ctx.keys.timerKeys() as [string, string, string];
    const value = await guard(() => this.#ctx.client.hget(entries, timerMember(key)));
    return value === null ? undefined : decode(value).timer;
  }

  async disarm(key: TimerKey): Promise<boolean> {
    const removed = await disarm.run<number>(this.#ctx.client, this.#ctx.keys.timerKeys(), [
      timerMember(key),
      key.instance,
    ]);
    return removed === 1;
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedTimer[]> {
    const values = await claim.run<string[]>(this.#ctx.client, this.#ctx.keys.timerKeys(), [now, leaseUntil, limit]);
    return values.map(decode);
  }

  async fired(claimed: ClaimedTimer): Promise<void> {
    await fired.run<number>(this.#ctx.client, this.#ctx.keys.timerKeys(), [
      timerMember(claimed.timer),
      claimed.armId,
      claimed.timer.instance,
    ]);
  }
}
