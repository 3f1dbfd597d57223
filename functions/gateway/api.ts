import type { Hono } from "hono";
import { z } from "zod";
import { MemoryError } from "../../clients/memory/client.ts";
import type { PairingRecord } from "../../clients/memory/contract/people.ts";
import type { Run } from "../../clients/memory/contract/runs.ts";
import { TaskContract } from "../../eventing/catalog/contract.ts";
import { derivedEventId, makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import type { EventSink } from "../../eventing/client/broker-client.ts";
import { readBodyLimited } from "../../eventing/cloudevent/body.ts";
import { ApiError } from "../../runtime/api-error.ts";
import type { BearerEnv } from "../../runtime/bearer.ts";
import type { Logger } from "../../runtime/log.ts";
import { approvalStatus, approvalView, tokenMayApprove } from "./approvals.ts";
import type { GatewayConfig } from "./config.ts";
import type { RunDocument } from "./console/run-document.ts";
import type { RunRecord, RunStore } from "./run-store.ts";
import type { RunWaiter } from "./run-waiter.ts";
import { type RunContext, startRun, waitForEvents, waitForOutcome } from "./runs.ts";
import { sseResponse } from "./sse.ts";

/**
 * The invocation API under /api/v1 (every route behind the bearer token, see app.ts):
 * - POST /instances/{instance}/runs: 202 + run id; `Prefer: wait=N` answers 200 with the outcome when the run
 *   finishes within N seconds; `Idempotency-Key` makes a retried request start one run;
 * - GET /runs/{id}: the run's status and outcome;
 * - GET /runs/{id}/events: SSE of what the run does, resumable with Last-Event-ID;
 * - GET /approvals/{id}: an approval this gateway was asked, its status, and whether the calling token may decide it;
 * - POST /approvals/{id}: approve or deny a held tool call, decided by the token's name: 202 once forwarded, 403 for a
 *   token that may not approve it, 409 once decided (or while another decision is applied), 410 once expired;
 * - GET /instances/{instance}/pairing, POST /instances/{instance}/pairing/{code}/approve|deny: the pairing queue.
 */
export interface PairingAdmin {
  listPairing(instance: string): Promise<PairingRecord[]>;
  approvePairing(instance: string, code: string, decidedBy?: string): Promise<PairingRecord>;
  denyPairing(instance: string, code: string, decidedBy?: string): Promise<PairingRecord>;
}

export interface ApiContext extends RunContext {
  config: GatewayConfig;
  store: RunStore;
  waiter: RunWaiter;
  sink: EventSink;
  /** The agent's own run documents, for progress while the gateway has no outcome yet. */
  findRun?: (id: string) => Promise<Run | undefined>;
  pairing?: PairingAdmin;
  log: Logger;
}

/** The principal is the name of the caller's token (audit records name it; the token itself is never kept). */
export type GatewayVariables = BearerEnv<string>;

const MAX_BODY_BYTES = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

const RunRequestBody = z
  .object({
    task: z
      .string()
      .min(1)
      .max(64 * 1024),
    input: z.unknown().optional(),
    contract: TaskContract.optional(),
    sessionKey: z.string().min(1).max(256).optional(),
  })
  .strict();

const ApprovalBody = z
  .object({ decision: z.enum(["approve", "deny"]), reason: z.string().max(4096).optional() })
  .strict();

export async function readJson<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  // Past the limit this throws the 413 (payload_too_large, connection closed) the caller gets.
  const body = await readBodyLimited(request, MAX_BODY_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ApiError(400, "invalid_request", `${first?.path.join(".") || "(body)"}: ${first?.message}`);
  }
  return parsed.data;
}

/** `Prefer: wait=N` (RFC 7240), capped; undefined when absent or unreadable. */
function preferWait(header: string | undefined, max: number): number | undefined {
  if (header === undefined) return undefined;
  for (const preference of header.split(",")) {
    const match = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*$/i.exec(preference);
    if (match) return Math.min(Number(match[1]), max);
  }
  return undefined;
}

function runView(record: RunRecord, status: string = record.status) {
  return {
    runId: record.runId,
    instance: record.instance,
    status,
    createdAt: record.createdAt,
    ...(record.finishedAt !== undefined ? { finishedAt: record.finishedAt } : {}),
    ...(record.output !== undefined ? { output: record.output } : {}),
    ...(record.reason !== undefined ? { reason: record.reason, message: record.message } : {}),
    ...(record.usage !== undefined
      ? { usage: record.usage, costUsd: record.costUsd, durationMs: record.durationMs }
      : {}),
    links: { self: `/api/v1/runs/${record.runId}`, events: `/api/v1/runs/${record.runId}/events` },
  };
}

/**
 * The run as the agent's own document tells it, while the gateway has no outcome yet: running, waiting, or finished
 * with the outcome the document holds (an outcome can be on its way, or lost and about to be re-driven, redrive.ts).
 */
function agentView(record: RunRecord, run: Run) {
  const doc = run.state as Partial<RunDocument>;
  if (run.status !== "completed" && run.status !== "failed" && run.status !== "cancelled")
    return runView(record, run.status);
  const outcome = doc.outcome ?? { status: "failed" as const, reason: run.status, output: "" };
  const finished: RunRecord = {
    ...record,
    status: outcome.status,
    finishedAt: new Date(run.updatedAt).toISOString(),
    ...(outcome.status === "completed"
      ? { output: outcome.output }
      : { reason: outcome.reason ?? "failed", message: outcome.message ?? "" }),
    ...(doc.usage !== undefined
      ? { usage: doc.usage, costUsd: doc.costUsd ?? 0, durationMs: run.updatedAt - run.createdAt }
      : {}),
  };
  return runView(finished);
}

function instanceParam(ctx: ApiContext, instance: string): string {
  if (!ctx.config.instances.has(instance))
    throw new ApiError(404, "not_found", `no instance named ${JSON.stringify(instance)}`);
  return instance;
}

export function idempotencyKeyOf(request: Request): string | undefined {
  const key = request.headers.get("idempotency-key");
  if (key === null) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    throw new ApiError(400, "invalid_request", "Idempotency-Key must be 1-255 printable characters");
  return key;
}

export function registerApi(app: Hono<GatewayVariables>, ctx: ApiContext): void {
  app.post("/api/v1/instances/:instance/runs", async (c) => {
    const instance = instanceParam(ctx, c.req.param("instance"));
    const body = await readJson(c.req.raw, RunRequestBody);
    const record = await startRun(ctx, {
      instance,
      task: body.task,
      ...(body.input !== undefined ? { input: body.input } : {}),
      ...(body.contract !== undefined ? { contract: body.contract } : {}),
      ...(body.sessionKey !== undefined ? { sessionKey: body.sessionKey } : {}),
      by: c.get("principal"),
      idempotencyKey: idempotencyKeyOf(c.req.raw),
    });
    const wait = preferWait(c.req.header("prefer"), ctx.config.maxWaitSeconds);
    const headers: Record<string, string> = { location: `/api/v1/runs/${record.runId}` };
    if (wait !== undefined) {
      headers["preference-applied"] = `wait=${wait}`;
      const finished = await waitForOutcome(ctx, record.runId, wait, c.req.raw.signal);
      if (finished !== undefined) return c.json(runView(finished), 200, headers);
    }
    return c.json(runView(record), 202, headers);
  });

  app.get("/api/v1/runs/:id", async (c) => {
    const record = await ctx.store.get(c.req.param("id"));
    if (record === undefined) throw new ApiError(404, "not_found", "no such run");
    if (record.status !== "queued" || ctx.findRun === undefined) return c.json(runView(record));
    // The outcome is not in yet: the agent's own run document says how far the run is, finished included.
    const agentRun = await ctx.findRun(record.runId).catch(() => undefined);
    return c.json(agentRun === undefined ? runView(record) : agentView(record, agentRun));
  });

  app.get("/api/v1/runs/:id/events", async (c) => {
    const runId = c.req.param("id");
    const lastEventId = c.req.header("last-event-id");
    if (lastEventId !== undefined && !/^\d{1,9}$/.test(lastEventId.trim())) {
      throw new ApiError(400, "invalid_request", "Last-Event-ID must be an event id this stream sent");
    }
    if ((await ctx.store.get(runId)) === undefined) throw new ApiError(404, "not_found", "no such run");
    const requestSignal = c.req.raw.signal;
    return sseResponse(async (writer) => {
      const signal = AbortSignal.any([writer.signal, requestSignal]);
      let after = lastEventId === undefined ? 0 : Number(lastEventId);
      let lastWrite = Date.now();
      for (;;) {
        const events = await waitForEvents(ctx, runId, after, lastWrite + KEEPALIVE_MS, signal);
        if (signal.aborted) return;
        if (events === undefined) {
          writer.comment("keep-alive");
          lastWrite = Date.now();
          continue;
        }
        for (const event of events) {
          writer.send({
            id: String(event.seq),
            event: event.type,
            data: JSON.stringify({ ...event.data, at: event.at }),
          });
          after = event.seq;
          if (event.type === "completed" || event.type === "failed") return;
        }
        lastWrite = Date.now();
      }
    });
  });

  app.get("/api/v1/approvals/:id", async (c) => {
    const approval = await ctx.store.recallApproval(c.req.param("id"));
    if (approval === undefined) throw new ApiError(404, "not_found", "no such approval");
    const verdict = await ctx.store.verdict(approval.approvalId);
    return c.json(approvalView(approval, verdict, c.get("principal"), ctx.now()));
  });

  app.post("/api/v1/approvals/:id", async (c) => {
    const body = await readJson(c.req.raw, ApprovalBody);
    const approval = await ctx.store.recallApproval(c.req.param("id"));
    if (approval === undefined) throw new ApiError(404, "not_found", "no such approval");
    const status = approvalStatus(approval, await ctx.store.verdict(approval.approvalId), ctx.now());
    if (status === "expired") throw new ApiError(410, "expired", "the approval has expired");
    if (status !== "open") throw new ApiError(409, "already_decided", `the approval was already ${status}`);
    // Who decides is who the bearer token authenticated: never anything the body says.
    const by = c.get("principal");
    if (!tokenMayApprove(approval, by)) {
      ctx.log.warn(
        { approvalId: approval.approvalId, runId: approval.runId, by: `http:${by}` },
        "approval decision refused: this token may not approve the call",
      );
      throw new ApiError(403, "not_an_approver", "this token may not approve this call");
    }
    const held = await ctx.store.holdForDecision(approval, { by, decision: body.decision });
    // The same decision again (a retried request) is sent again under the same event id; any other waits its turn.
    if (held !== undefined && (held.by !== by || held.decision !== body.decision))
      throw new ApiError(409, "already_decided", "another decision on this approval is being applied");
    try {
      await ctx.sink.emit(
        makeEvent(T.APPROVAL_DECIDED, {
          source: ctx.source,
          id: derivedEventId("gateway", "approval", approval.approvalId, by, body.decision),
          data: {
            approvalId: approval.approvalId,
            runId: approval.runId,
            callId: approval.callId,
            instance: approval.instance,
            digest: approval.digest,
            decision: body.decision,
            decidedBy: { channel: "http", id: by },
            ...(body.reason !== undefined ? { reason: body.reason } : {}),
          },
        }),
      );
    } catch (error) {
      if (held === undefined) await ctx.store.releaseDecision(approval.approvalId, by).catch(() => undefined);
      throw error;
    }
    return c.json({ approvalId: approval.approvalId, runId: approval.runId, decision: body.decision }, 202);
  });

  app.get("/api/v1/instances/:instance/pairing", async (c) => {
    const instance = instanceParam(ctx, c.req.param("instance"));
    const pairing = requirePairing(ctx);
    return c.json({ pending: await memoryCall(() => pairing.listPairing(instance)) });
  });

  app.post("/api/v1/instances/:instance/pairing/:code/:verb{approve|deny}", async (c) => {
    const instance = instanceParam(ctx, c.req.param("instance"));
    const pairing = requirePairing(ctx);
    const code = c.req.param("code").replace(/[\s-]/g, "").toUpperCase();
    if (!/^[A-HJ-NP-Z2-9]{8}$/.test(code)) throw new ApiError(400, "invalid_request", "a pairing code is 8 characters");
    const decidedBy = `gateway:${c.get("principal")}`;
    const record = await memoryCall(() =>
      c.req.param("verb") === "approve"
        ? pairing.approvePairing(instance, code, decidedBy)
        : pairing.denyPairing(instance, code, decidedBy),
    );
    return c.json({ pairing: record });
  });
}

function requirePairing(ctx: ApiContext): PairingAdmin {
  if (ctx.pairing === undefined) throw new ApiError(503, "unavailable", "the memory service is not configured");
  return ctx.pairing;
}

async function memoryCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof MemoryError && error.status === 404)
      throw new ApiError(404, "not_found", "no such pairing code");
    if (error instanceof MemoryError && error.status === 409) throw new ApiError(409, "conflict", error.message);
    throw new ApiError(503, "unavailable", "the memory service did not answer", { retryAfterSeconds: 1 });
  }
}
