import { z } from "zod";
import { TimerData, TimerId, TimerKind, TimerTarget } from "../../../eventing/catalog/shared.ts";
import { InstanceName, TimestampMs } from "./fields.ts";

/**
 * Due-time timers: a function arms one (instance, target, kind, id, due time) and the memory service, which is always
 * on, emits `dev.knclaw.timer.fired` for it once the time has come, waking only that function (ARCHITECTURE.md,
 * "Deadlines"). Arming the same timer again moves it; disarming it forgets it. A fired timer is gone.
 */

/** The W3C trace context the fired event continues (the run's trace). */
const TraceParent = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, "a W3C traceparent");
const TraceState = z.string().max(512);

export const ArmTimerRequest = z.strictObject({
  /** When to fire, in ms since the epoch; a time already past fires at the next poll. */
  dueAt: TimestampMs,
  /**
   * Orders concurrent arms of the same timer (e.g. the run's version): an arm with a lower version than the timer's
   * stored one is not applied, so a late arm from an older state cannot move the timer back.
   */
  version: z.int().min(0).optional(),
  data: TimerData.optional(),
  traceparent: TraceParent.optional(),
  tracestate: TraceState.optional(),
});
export type ArmTimerRequest = z.infer<typeof ArmTimerRequest>;

export const Timer = z.object({
  instance: InstanceName,
  target: TimerTarget,
  kind: TimerKind,
  id: TimerId,
  dueAt: TimestampMs,
  version: z.int().min(0).optional(),
  data: TimerData.optional(),
});
export type Timer = z.infer<typeof Timer>;

/** `armed: false` when a newer version of the timer is stored (`timer` is that one). */
export const ArmTimerResponse = z.object({ armed: z.boolean(), timer: Timer });
export type ArmTimerResponse = z.infer<typeof ArmTimerResponse>;

export const TimerResponse = z.object({ timer: Timer });
export type TimerResponse = z.infer<typeof TimerResponse>;

export const DisarmTimerResponse = z.object({ disarmed: z.boolean() });
export type DisarmTimerResponse = z.infer<typeof DisarmTimerResponse>;
