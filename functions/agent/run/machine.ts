import type { ApprovalDecided, ToolCompleted, ToolError } from "../../../eventing/catalog/index.ts";
import { derivedEventId } from "../../../eventing/catalog/make.ts";
import { EventRefused } from "../../../eventing/trust/event-trust.ts";
import { toolError } from "../../../skills/runtime/tool-error.ts";
import {
  type BudgetKind,
  costOf,
  describeBudget,
  exhaustedBeforeModelCall,
  overshotAfterModelCall,
  type Price,
  toolCallsWouldExceed,
  wallClockExceeded,
} from "../policy/budgets.ts";
import type { ContractLayer, EffectiveContract } from "../policy/contract.ts";
import { gateCall } from "../policy/gate.ts";
import type { ModelResponse } from "../providers/model.ts";
import type { ToolCatalog } from "../tools/catalog.ts";
import { describeIdentity, mayApprove } from "./approvers.ts";
import { MAX_OUTPUT_CHARS } from "./blobs.ts";
import { isQuietHeartbeat } from "./heartbeat.ts";
import {
  approvalRequestedEvent,
  approvalResolvedEvent,
  type EventContext,
  messageSendEvent,
  outcomeEvent,
  storeEvent,
  toolRequestedEvent,
} from "./outgoing.ts";
import { errorResult, successResult } from "./results.ts";
import {
  type AuditFact,
  type CallResult,
  isFinished,
  MAX_APPLIED,
  type PendingCall,
  RUN_STATE_VERSION,
  type RunKind,
  type RunState,
  runUsage,
  type StoredEvent,
} from "./state.ts";

/**
 * The run loop as pure transitions: (state, input) -> (new state, events to emit, whether to call the model).
 * No I/O here: the step driver loads the state, calls the model when asked and feeds its answer back in as another
 * input, commits the new state with its events (the outbox), and emits them after the commit. Every path keeps the provider protocol valid: the model is
 * called again only once every call of its last turn has an answer (result, typed error or denial), and the answers
 * go into the transcript in the order of the calls.
 */
export interface MachineEnv extends EventContext {
  catalog: ToolCatalog;
  contract: EffectiveContract;
  price: Price | undefined;
  heartbeat: { okToken: string; ackMaxChars: number };
  toolGraceSeconds: number;
  maxInlineRetryDelaySeconds: number;
}

export type MachineInput =
  /** A new run: call the model (unless a budget is already spent). */
  | { kind: "begin" }
  | { kind: "model_response"; response: ModelResponse }
  /** The model call failed for good (auth, bad request): the run ends. Transient failures never get here. */
  | { kind: "model_failed"; reason: string; message: string }
  | { kind: "tool_completed"; data: ToolCompleted }
  | { kind: "approval_decided"; data: ApprovalDecided }
  /** Time passed: expire approvals, time out unanswered calls, enforce the wall clock. */
  | { kind: "sweep" }
  | { kind: "stop"; reason: string; message: string };

export interface Transition {
  state: RunState;
  events: StoredEvent[];
  /** Policy decisions of this step for the audit stream. */
  audit: AuditFact[];
  callModel: boolean;
  /** False when the input changed nothing (a duplicate or stale answer). */
  changed: boolean;
}

export interface RunInit {
  runId: string;
  instance: string;
  kind: RunKind;
  model: string;
  now: number;
  userText: string;
  layers: ContractLayer[];
  contractVersion: string;
  sessionKey?: string;
  replyTo?: RunState["replyTo"];
  requester?: RunState["requester"];
  schedule?: string;
  trace?: RunState["trace"];
}

export function newRun(init: RunInit): RunState {
  const state: RunState = {
    v: RUN_STATE_VERSION,
    runId: init.runId,
    instance: init.instance,
    kind: init.kind,
    phase: "running",
    model: init.model,
    startedAt: init.now,
    updatedAt: init.now,
    userText: init.userText,
    layers: init.layers,
    contractVersion: init.contractVersion,
    turns: 0,
    toolCalls: 0,
    consecutiveFailures: 0,
    usage: { inputTokens: 0, outputTokens: 0 },
    costUsd: 0,
    transcript: [{ role: "user", content: init.userText }],
    pending: [],
    applied: [],
    outbox: [],
    holds: [],
  };
  if (init.sessionKey !== undefined) state.sessionKey = init.sessionKey;
  if (init.replyTo !== undefined) state.replyTo = init.replyTo;
  if (init.requester !== undefined) state.requester = init.requester;
  if (init.schedule !== undefined) state.schedule = init.schedule;
  if (init.trace !== undefined) state.trace = init.trace;
  return state;
}

export function advance(previous: RunState, input: MachineInput, env: MachineEnv): Transition {
  const t: Transition = { state: structuredClone(previous), events: [], audit: [], callModel: false, changed: true };
  if (isFinished(t.state)) return unchanged(previous);
  t.state.updatedAt = env.now;
  switch (input.kind) {
    case "begin":
      proceed(t, env);
      break;
    case "model_response":
      onModelResponse(t, input.response, env);
      break;
    case "model_failed":
      fail(t, env, input.reason, input.message);
      break;
    case "tool_completed":
      if (!onToolCompleted(t, input.data, env)) return unchanged(previous);
      break;
    case "approval_decided":
      if (!onApprovalDecided(t, input.data, env)) return unchanged(previous);
      break;
    case "sweep":
      if (!onSweep(t, env)) return unchanged(previous);
      break;
    case "stop":
      fail(t, env, input.reason, input.message);
      break;
  }
  return t;
}

function unchanged(state: RunState): Transition {
  return { state, events: [], audit: [], callModel: false, changed: false };
}

/** Record an applied event id (bounded), so redeliveries of it are recognised. */
export function markApplied(state: RunState, eventId: string): void {
  if (state.applied.includes(eventId)) return;
  state.applied.push(eventId);
  if (state.applied.length > MAX_APPLIED) state.applied.splice(0, state.applied.length - MAX_APPLIED);
}

/** No call is outstanding: put the answers in the transcript, check the limits, and ask for the next model turn. */
function proceed(t: Transition, env: MachineEnv): void {
  const state = t.state;
  if (state.pending.length > 0) {
    for (const call of state.pending) {
      const result = call.result!;
      state.transcript.push({
        role: "tool",
        callId: call.providerId,
        name: call.name,
        content: result.content,
        isError: result.isError,
        ...(result.blob !== undefined ? { blob: result.blob } : {}),
      });
    }
    state.pending = [];
  }
  const maxFailures = env.contract.maxConsecutiveToolFailures;
  if (maxFailures !== undefined && state.consecutiveFailures >= maxFailures) {
    fail(t, env, "tool_failures", `I stopped after ${state.consecutiveFailures} tool calls in a row failed.`);
    return;
  }
  const maxTurns = env.contract.maxTurns;
  if (maxTurns !== undefined && state.turns >= maxTurns) {
    fail(t, env, "max_turns", `I stopped: this task reached its limit of ${maxTurns} model turns.`);
    return;
  }
  const exhausted = exhaustedBeforeModelCall(runUsage(state), env.contract.budgets, env.now);
  if (exhausted !== undefined) {
    failBudget(t, env, exhausted);
    return;
  }
  state.phase = "running";
  t.callModel = true;
}

function onModelResponse(t: Transition, response: ModelResponse, env: MachineEnv): void {
  const state = t.state;
  state.turns += 1;
  state.usage.inputTokens += response.usage.inputTokens;
  state.usage.outputTokens += response.usage.outputTokens;
  const turnCost = costOf(response.usage, env.price);
  state.costUsd += turnCost;
  state.turnLog ??= [];
  state.turnLog.push({
    turn: state.turns,
    at: env.now,
    inputTokens: response.usage.inputTokens,
    outputTokens: response.usage.outputTokens,
    costUsd: turnCost,
    ...(response.latencyMs !== undefined ? { latencyMs: response.latencyMs } : {}),
    finishReason: response.finishReason,
    toolCalls: response.toolCalls.length,
  });
  const overshot = overshotAfterModelCall(runUsage(state), env.contract.budgets);
  if (overshot !== undefined) {
    failBudget(t, env, overshot);
    return;
  }
  if (response.toolCalls.length === 0) {
    complete(t, env, response.text);
    return;
  }
  state.transcript.push({ role: "assistant", content: response.text, toolCalls: response.toolCalls });
  const verdicts = response.toolCalls.map((call) => gateCall(call, env.catalog, env.contract));
  const executable = verdicts.filter((verdict) => verdict.kind !== "refuse").length;
  if (toolCallsWouldExceed(state.toolCalls, executable, env.contract.budgets)) {
    failBudget(t, env, "tool_calls");
    return;
  }
  state.pending = response.toolCalls.map((call, index) => {
    const verdict = verdicts[index]!;
    const pending: PendingCall = {
      id: `${state.turns}-${index}`,
      providerId: call.id,
      name: call.name,
      arguments: call.arguments,
      status: "done",
      attempt: 1,
    };
    if (verdict.kind === "refuse") {
      if (verdict.tool)
        Object.assign(pending, { skill: verdict.tool.skill, tool: verdict.tool.tool, ref: verdict.tool.ref });
      pending.result = errorResult("policy", verdict.error);
      t.audit.push({
        type: "policy.refused",
        data: {
          callId: pending.id,
          tool: verdict.tool?.ref ?? call.name.slice(0, 64),
          class: verdict.error.class,
          message: verdict.error.message.slice(0, 500),
        },
      });
      state.consecutiveFailures += 1;
      return pending;
    }
    Object.assign(pending, {
      skill: verdict.tool.skill,
      tool: verdict.tool.tool,
      ref: verdict.tool.ref,
      args: verdict.args,
      digest: verdict.digest,
    });
    if (verdict.kind === "allow") {
      request(t, pending, env);
      return pending;
    }
    if (state.replyTo === undefined) {
      pending.result = errorResult(
        "policy",
        toolError("PermissionDenied", `${pending.ref} needs a human approval and this run has nobody to ask`, {
          retryable: false,
        }),
      );
      state.consecutiveFailures += 1;
      return pending;
    }
    pending.status = "awaiting_approval";
    pending.approval = {
      id: `ap-${derivedEventId(state.runId, "approval-id", pending.id).slice(3)}`,
      expiresAt: env.now + env.contract.approvalTimeoutSeconds * 1000,
      ...(env.contract.approvers !== undefined ? { approvers: [...env.contract.approvers] } : {}),
    };
    t.events.push(storeEvent(approvalRequestedEvent(state, pending, env)));
    t.audit.push({
      type: "approval.requested",
      data: { callId: pending.id, tool: pending.ref!, digest: pending.digest! },
    });
    return pending;
  });
  settle(t, env);
}

/** Emit a call to its skill (first attempt or after approval). */
function request(t: Transition, call: PendingCall, env: MachineEnv, notBefore?: number): void {
  const tool = env.catalog.byReference(call.ref!);
  const timeoutSeconds = tool?.descriptor.timeoutSeconds ?? 30;
  const start = notBefore ?? env.now;
  call.status = "requested";
  call.deadlineAt = start + (timeoutSeconds + env.toolGraceSeconds) * 1000;
  if (call.attempt === 1) t.state.toolCalls += 1;
  t.events.push(storeEvent(toolRequestedEvent(t.state, call, env), notBefore));
}

/** After answers came in: wait for the rest, or go on with the next model turn. */
function settle(t: Transition, env: MachineEnv): void {
  if (t.state.pending.every((call) => call.status === "done")) proceed(t, env);
  else t.state.phase = "waiting";
}

function onToolCompleted(t: Transition, data: ToolCompleted, env: MachineEnv): boolean {
  const call = t.state.pending.find((candidate) => candidate.id === data.callId);
  if (call === undefined) return false;
  // The answer is signed by skill/<data.skill> (eventing/catalog/producers.ts): it is taken only from the skill the
  // call was sent to, for the arguments it was sent with; anyone else answering this call is refused, not ignored.
  if (data.skill !== call.skill || data.tool !== call.tool || data.digest !== call.digest) {
    throw new EventRefused(
      "not_bound",
      `call ${call.id} was not sent to ${data.skill}.${data.tool} with these arguments`,
    );
  }
  // Stale (an earlier attempt, an answered call): ignored.
  if (call.status !== "requested" || data.attempt !== call.attempt) return false;
  if (data.outcome.ok) {
    finishCall(t.state, call, successResult(call.ref!, data.outcome.result), true);
  } else {
    const error = data.outcome.error;
    const delay = retryDelaySeconds(env, error, call.attempt);
    if (
      env.contract.shouldRetry(error.class, error.retryable, call.attempt) &&
      delay <= env.maxInlineRetryDelaySeconds
    ) {
      call.attempt += 1;
      request(t, call, env, delay > 0 ? env.now + delay * 1000 : undefined);
      return true;
    }
    finishCall(t.state, call, errorResult(`tool:${call.ref}`, error), false);
  }
  settle(t, env);
  return true;
}

function retryDelaySeconds(env: MachineEnv, error: ToolError, attempt: number): number {
  const backoff = env.contract.retry.backoffSeconds * 2 ** (attempt - 1);
  return Math.max(backoff, error.retryAfterSeconds ?? 0);
}

function finishCall(state: RunState, call: PendingCall, result: CallResult, ok: boolean): void {
  call.status = "done";
  call.result = result;
  state.consecutiveFailures = ok ? 0 : state.consecutiveFailures + 1;
}

function onApprovalDecided(t: Transition, data: ApprovalDecided, env: MachineEnv): boolean {
  const state = t.state;
  const call = state.pending.find((candidate) => candidate.approval?.id === data.approvalId);
  // Unknown, already decided or expired, or naming another call: a second or late decision changes nothing.
  if (call === undefined || call.status !== "awaiting_approval" || call.id !== data.callId) return false;
  if (env.now > call.approval!.expiresAt) {
    expire(t, call, env, "the approval timed out before a decision (default: deny)");
    settle(t, env);
    return true;
  }
  const who = describeIdentity(data.decidedBy);
  const by = identityKey(data.decidedBy);
  let refusal: string | undefined;
  if (!mayApprove(data.decidedBy, call.approval!.approvers, state.requester))
    refusal = `${who} may not approve this call`;
  else if (data.digest !== call.digest) refusal = "the decision was given for other arguments than this call's";
  if (refusal !== undefined) {
    // Refused, not denied: the call stays held for the real approvers, and only this decider is told.
    const approval = call.approval!;
    approval.refusals = (approval.refusals ?? 0) + 1;
    t.audit.push({ type: "approval.refused", data: { callId: call.id, tool: call.ref!, by, reason: refusal } });
    t.events.push(
      storeEvent(
        approvalResolvedEvent(state, call, env, {
          outcome: "refused",
          decidedBy: data.decidedBy,
          reason: refusal,
          refusal: approval.refusals,
        }),
      ),
    );
    return true;
  }
  const resolved = (outcome: "approved" | "denied") =>
    storeEvent(
      approvalResolvedEvent(state, call, env, {
        outcome,
        decidedBy: data.decidedBy,
        ...(data.reason !== undefined ? { reason: data.reason } : {}),
      }),
    );
  if (data.decision === "deny") {
    const denial = `denied by ${who}${data.reason ? `: ${data.reason}` : ""}`;
    t.audit.push({
      type: "approval.denied",
      data: { callId: call.id, tool: call.ref!, by, reason: denial.slice(0, 500) },
    });
    t.events.push(resolved("denied"));
    finishCall(
      state,
      call,
      errorResult("approval", toolError("PermissionDenied", denial, { retryable: false })),
      false,
    );
    settle(t, env);
    return true;
  }
  t.audit.push({ type: "approval.granted", data: { callId: call.id, tool: call.ref!, by, digest: call.digest! } });
  t.events.push(resolved("approved"));
  request(t, call, env);
  settle(t, env);
  return true;
}

/** `<channel>:[<workspace>/]<id>`: who decided, as the audit stream names them. */
function identityKey(who: ApprovalDecided["decidedBy"]): string {
  return `${who.channel}:${who.workspace !== undefined ? `${who.workspace}/` : ""}${who.id}`;
}

/** No permitted decision in time: the call is refused to the model and the prompt is told it expired. */
function expire(t: Transition, call: PendingCall, env: MachineEnv, reason: string): void {
  t.audit.push({ type: "approval.expired", data: { callId: call.id, tool: call.ref ?? call.name } });
  t.events.push(storeEvent(approvalResolvedEvent(t.state, call, env, { outcome: "expired", reason })));
  finishCall(
    t.state,
    call,
    errorResult("approval", toolError("PermissionDenied", reason, { retryable: false })),
    false,
  );
}

function onSweep(t: Transition, env: MachineEnv): boolean {
  const state = t.state;
  if (wallClockExceeded(runUsage(state), env.contract.budgets, env.now)) {
    failBudget(t, env, "wall_clock");
    return true;
  }
  let changed = false;
  for (const call of state.pending) {
    if (call.status === "awaiting_approval" && env.now > call.approval!.expiresAt) {
      expire(t, call, env, "the approval timed out before a decision (default: deny)");
      changed = true;
    } else if (call.status === "requested" && call.deadlineAt !== undefined && env.now > call.deadlineAt) {
      const error = toolError("Timeout", `no answer from ${call.ref} in time`, { retryable: true });
      finishCall(state, call, errorResult("platform", error), false);
      changed = true;
    }
  }
  if (!changed) return false;
  settle(t, env);
  return true;
}

function complete(t: Transition, env: MachineEnv, text: string): void {
  const state = t.state;
  state.transcript.push({ role: "assistant", content: text });
  state.phase = "completed";
  state.outcome = { status: "completed", output: text.slice(0, MAX_OUTPUT_CHARS) };
  const quiet = state.kind === "schedule" && isQuietHeartbeat(text, env.heartbeat.okToken, env.heartbeat.ackMaxChars);
  if (state.replyTo !== undefined && !quiet) t.events.push(storeEvent(messageSendEvent(state, "final", text, env)));
  t.events.push(storeEvent(outcomeEvent(state, env)));
}

function failBudget(t: Transition, env: MachineEnv, kind: BudgetKind): void {
  fail(
    t,
    env,
    `budget_exceeded:${kind}`,
    `I had to stop: this task used up ${describeBudget(kind, env.contract.budgets)}.`,
  );
}

function fail(t: Transition, env: MachineEnv, reason: string, message: string): void {
  const state = t.state;
  // An approval still held can never be decided now: its prompt is told so, and loses its buttons.
  for (const call of state.pending) {
    if (call.status !== "awaiting_approval") continue;
    t.audit.push({ type: "approval.expired", data: { callId: call.id, tool: call.ref ?? call.name } });
    const ended = `the run ended (${reason}) before a decision`;
    t.events.push(storeEvent(approvalResolvedEvent(state, call, env, { outcome: "expired", reason: ended })));
  }
  state.phase = "failed";
  state.outcome = { status: "failed", reason, output: "", message };
  if (state.replyTo !== undefined) t.events.push(storeEvent(messageSendEvent(state, "failed", message, env)));
  t.events.push(storeEvent(outcomeEvent(state, env)));
  t.callModel = false;
}
