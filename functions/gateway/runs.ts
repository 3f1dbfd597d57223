import { randomUUID } from "node:crypto";
import { LEASE_SECONDS, runOnce } from "../../clients/memory/run-once.ts";
import type { TaskContract } from "../../eventing/catalog/contract.ts";
import type { RunRequested } from "../../eventing/catalog/events.ts";
import { derivedEventId } from "../../eventing/catalog/make.ts";
import type { EventSink } from "../../eventing/client/broker-client.ts";
import { crashPoint } from "../../runtime/crash-point.ts";
import type { Logger } from "../../runtime/log.ts";
import { acceptedKey, armRedrive, type Redrive, redriveIfOverdue, runRequestedEvent } from "./redrive.ts";
import type { RunRecord, RunStore } from "./run-store.ts";
import type { RunWaiter } from "./run-waiter.ts";

/** Starting runs and waiting for their outcome: shared by the runs API and the OpenAI-compatible endpoint. */
export interface RunContext {
  store: RunStore;
  waiter: RunWaiter;
  sink: EventSink;
  source: string;
  now: () => number;
  log: Logger;
  /** Re-drives of accepted runs that get no outcome (redrive.ts); none without the memory service's timers. */
  redrive?: Redrive;
}

export interface StartRun {
  instance: string;
  task: string;
  input?: unknown;
  contract?: TaskContract;
  sessionKey?: string;
  /** The token name: recorded as who asked, and scoping idempotency keys. */
  by: string;
  /** The caller's Idempotency-Key: the same key from the same token starts one run, however often it is sent. */
  idempotencyKey?: string;
}

function runIdFor(by: string, idempotencyKey: string | undefined): string {
  return idempotencyKey !== undefined ? derivedEventId("gateway", by, idempotencyKey) : `run-${randomUUID()}`;
}

/**
 * Record the run, then accept it once: store its request and arm its re-drive timer (redrive.ts), then emit
 * run.requested. Every step is safe to repeat: a retried request with the same idempotency key finds the record and,
 * if the earlier attempt was not accepted, accepts it now; if it was, and the run is overdue, re-drives it.
 */
export async function startRun(ctx: RunContext, request: StartRun): Promise<RunRecord> {
  const runId = runIdFor(request.by, request.idempotencyKey);
  const record: RunRecord = {
    runId,
    instance: request.instance,
    status: "queued",
    createdAt: new Date(ctx.now()).toISOString(),
    createdBy: request.by,
  };
  const created = await ctx.store.create(record);
  const stored = created ? record : ((await ctx.store.get(runId)) ?? record);
  const requested: RunRequested = {
    instance: stored.instance,
    runId,
    task: request.task,
    ...(request.input !== undefined ? { input: request.input } : {}),
    ...(request.contract !== undefined ? { contract: request.contract } : {}),
    ...(request.sessionKey !== undefined ? { sessionKey: request.sessionKey } : {}),
    requestedBy: { channel: "http", id: request.by },
    replyTo: { channel: "http", conversation: runId },
  };
  const accepted = await runOnce(
    ctx.store.kvForEmits,
    acceptedKey(runId),
    { leaseSeconds: LEASE_SECONDS, keepSeconds: 7 * 24 * 3600 },
    async () => {
      await ctx.store.saveRequest(requested);
      await armRedrive(ctx, stored, 0);
      await ctx.sink.emit(runRequestedEvent(ctx.source, requested));
      crashPoint("gateway.after-emit");
    },
  );
  if (!accepted.fresh) await redriveIfOverdue(ctx, stored);
  return stored;
}

function isFinished(record: RunRecord | undefined): record is RunRecord {
  return record !== undefined && record.status !== "queued";
}

/** The run's record once finished, or undefined when `seconds` passed first. */
export function waitForOutcome(ctx: RunContext, runId: string, seconds: number, signal?: AbortSignal) {
  return ctx.waiter.until(
    runId,
    async () => {
      const record = await ctx.store.get(runId);
      return isFinished(record) ? record : undefined;
    },
    Date.now() + seconds * 1000,
    signal,
  );
}

/** The run's events after sequence number `after`, as soon as there is one; undefined when `deadline` passed first. */
export function waitForEvents(ctx: RunContext, runId: string, after: number, deadline: number, signal: AbortSignal) {
  return ctx.waiter.until(
    runId,
    async () => {
      const found = await ctx.store.read(runId, after);
      return found.length > 0 ? found : undefined;
    },
    deadline,
    signal,
  );
}
