import type { MemoryClient } from "../../clients/memory/client.ts";
import { recallOnce } from "../../clients/memory/run-once.ts";
import type { RunRequested, TimerFired } from "../../eventing/catalog/events.ts";
import { derivedEventId, makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import type { RunRecord } from "./run-store.ts";
import type { RunContext } from "./runs.ts";

/**
 * No run the gateway accepted is ever stranded (ARCHITECTURE.md, "No run is stranded"). Every accepted run has a
 * due-time timer in the memory service (target `gateway`, kind `redrive`, armed before its run.requested is sent).
 * When it fires and the gateway still has no outcome for the run, the run.requested goes out again under its
 * deterministic id, and the agent, which takes it once, answers as the run stands: it starts a run it never got (the
 * request was lost, or dead-lettered while it could not take it), answers a finished run with its final outbox again
 * (the outcome was lost, or dead-lettered while the gateway could not take it), and for a run it is working on arms
 * its deadline timer again and sends the run's first step if that never went out (a step that died between its commit
 * and its emit while the memory service was down, a deadline timer whose event was lost). Before that, the timer is
 * armed again, twice as late each time up to 15 minutes, so a re-drive that fails is repeated; the outcome's arrival
 * disarms it.
 */
export const REDRIVE_TIMER = "redrive";
const MAX_DELAY_MS = 15 * 60_000;

/** The gateway's re-drive timers (the memory service's, in a deployment); `kind` tells runs' from chat messages'. */
export interface RedriveTimers {
  arm(record: Pick<RunRecord, "runId" | "instance">, dueAt: number, attempt: number, kind?: string): Promise<void>;
  disarm(record: Pick<RunRecord, "runId" | "instance">, kind?: string): Promise<void>;
}

export function memoryRedriveTimers(client: MemoryClient): RedriveTimers {
  const name = (record: Pick<RunRecord, "runId" | "instance">, kind: string) => ({
    instance: record.instance,
    target: "gateway" as const,
    kind,
    id: record.runId,
  });
  return {
    async arm(record, dueAt, attempt, kind = REDRIVE_TIMER) {
      await client.armTimer(name(record, kind), { dueAt, data: { attempt } });
    },
    async disarm(record, kind = REDRIVE_TIMER) {
      await client.disarmTimer(name(record, kind));
    },
  };
}

/** How re-drives are scheduled: after `afterMs` without an outcome, then twice as long each time. */
export interface Redrive {
  timers: RedriveTimers;
  afterMs: number;
}

/** The key marking that a run's run.requested was accepted by the broker (the caller got its 202). */
export function acceptedKey(runId: string): string {
  return `gw:emit:${runId}`;
}

/** The run.requested of a run, always under the same id: every consumer takes it once. */
export function runRequestedEvent(source: string, request: RunRequested): CloudEvent {
  return makeEvent(T.RUN_REQUESTED, { source, id: derivedEventId("gateway", "run", request.runId), data: request });
}

/** Arms the run's next look `attempt` (0: the first, `afterMs` from now). */
export async function armRedrive(ctx: RunContext, record: RunRecord, attempt: number): Promise<void> {
  if (ctx.redrive === undefined) return;
  const delay = Math.min(ctx.redrive.afterMs * 2 ** attempt, MAX_DELAY_MS);
  await ctx.redrive.timers.arm(record, ctx.now() + delay, attempt);
}

/** A re-drive timer fired: a run still without its outcome is re-driven, and looked at again later. */
export async function onRedriveTimer(ctx: RunContext, fired: TimerFired): Promise<void> {
  const record = await ctx.store.get(fired.id);
  if (record === undefined || record.status !== "queued") return;
  // A run whose request the broker never accepted was answered 503: its caller retries, the gateway does not.
  if ((await recallOnce(ctx.store.kvForEmits, acceptedKey(record.runId))) === undefined) return;
  const attempt = typeof fired.data?.attempt === "number" ? fired.data.attempt : 0;
  await armRedrive(ctx, record, attempt + 1);
  await redrive(ctx, record);
}

/**
 * A retried request (same Idempotency-Key) for a run the gateway accepted: once the run has waited a re-drive delay
 * without its outcome, it is re-driven now rather than at its timer.
 */
export async function redriveIfOverdue(ctx: RunContext, record: RunRecord): Promise<void> {
  if (record.status !== "queued" || ctx.redrive === undefined) return;
  if (ctx.now() - Date.parse(record.createdAt) >= ctx.redrive.afterMs) await redrive(ctx, record);
}

async function redrive(ctx: RunContext, record: RunRecord): Promise<void> {
  const request = await ctx.store.request(record.runId);
  if (request === undefined) {
    ctx.log.error(
      { runId: record.runId },
      "run without an outcome cannot be re-driven: its request is no longer stored",
    );
    return;
  }
  ctx.log.info({ runId: record.runId }, "run without an outcome: run.requested sent again");
  await ctx.sink.emit(runRequestedEvent(ctx.source, request));
}
