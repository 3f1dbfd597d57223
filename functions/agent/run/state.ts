import type { Identity, ReplyRoute } from "../../../eventing/catalog/shared.ts";
import type { RunUsage } from "../policy/budgets.ts";
import type { ContractLayer } from "../policy/contract.ts";
import type { ModelMessage } from "../providers/model.ts";

/**
 * A run's durable state: the JSON document the memory service keeps under compare-and-set. Everything a later step
 * needs is here (the contract snapshot included, so a redeploy mid-run does not change the rules a run started under);
 * nothing lives in the process between events.
 */
export const RUN_STATE_VERSION = 1;

export type RunKind = "message" | "task" | "schedule";
export type RunPhase = "running" | "waiting" | "completed" | "failed";

export interface CallResult {
  /** What the model is shown as the tool's answer (its preview once the whole answer moved to a blob). */
  content: string;
  isError: boolean;
  errorClass?: string;
  blob?: BlobRef;
}

/** Content moved out of the run document into a run blob of the memory service (run/blobs.ts). */
export interface BlobRef {
  sha256: string;
  /** UTF-8 size of the whole content. */
  bytes: number;
}

/** A transcript message; `blob` set means `content` is only the preview of what the blob holds. */
export type TranscriptMessage = ModelMessage & { blob?: BlobRef };

export interface PendingCall {
  /** Ours, deterministic (`<turn>-<index>`): event ids, tokens and tool.completed correlate on it. */
  id: string;
  /** The provider's id, echoed back with the result. */
  providerId: string;
  /** The model-facing tool name and the raw arguments, as the model sent them. */
  name: string;
  arguments: string;
  skill?: string;
  tool?: string;
  ref?: string;
  args?: Record<string, unknown>;
  digest?: string;
  status: "requested" | "awaiting_approval" | "done";
  attempt: number;
  /** After this the call is failed as Timeout, when the run's deadline timer fires (run/deadlines.ts). */
  deadlineAt?: number;
  /** `refusals`: decisions refused so far (each refusal is announced under its own event id). */
  approval?: { id: string; expiresAt: number; approvers?: string[]; refusals?: number };
  result?: CallResult;
}

export interface StoredEvent {
  attributes: Record<string, string>;
  /** UTF-8 data (always JSON for knclaw events). */
  data?: string;
  /** Not to be sent before this time (a tool retry's backoff). */
  notBefore?: number;
}

/** A policy decision worth keeping in the audit stream (refusals, approvals). */
export interface AuditFact {
  type: string;
  data: Record<string, string | number | boolean>;
}

export interface OutboxEntry {
  /** The event whose step produced these. */
  source: string;
  events: StoredEvent[];
  audit?: AuditFact[];
}

/** A lock the run holds (schedule concurrency, concurrent-run slots), released when the run ends. */
export interface Hold {
  name: string;
  owner: string;
  token: number;
}

interface RunOutcome {
  status: "completed" | "failed";
  reason?: string;
  output: string;
  message?: string;
}

/** What one model turn cost and how long it took. */
interface TurnRecord {
  turn: number;
  at: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs?: number;
  finishReason: string;
  toolCalls: number;
}

export interface RunState {
  v: typeof RUN_STATE_VERSION;
  runId: string;
  instance: string;
  kind: RunKind;
  phase: RunPhase;
  model: string;
  startedAt: number;
  updatedAt: number;
  sessionKey?: string;
  replyTo?: ReplyRoute;
  requester?: Identity;
  schedule?: string;
  trace?: { traceparent?: string; tracestate?: string };
  /** The user's message or the task, first in the transcript. */
  userText: string;
  layers: ContractLayer[];
  contractVersion: string;
  turns: number;
  toolCalls: number;
  consecutiveFailures: number;
  usage: { inputTokens: number; outputTokens: number };
  costUsd: number;
  /** One entry per model turn, for the operator console's timeline (absent in runs started before it existed). */
  turnLog?: TurnRecord[];
  /** This run's conversation: the user turn, then assistant turns and tool results. */
  transcript: TranscriptMessage[];
  /** The calls of the latest assistant turn. */
  pending: PendingCall[];
  /** Ids of the events already applied (most recent last), so a redelivery is recognised. */
  applied: string[];
  outbox: OutboxEntry[];
  holds: Hold[];
  outcome?: RunOutcome;
}

export const MAX_APPLIED = 64;

/** What the run has spent so far, as the budget checks read it. */
export function runUsage(state: RunState): RunUsage {
  return {
    inputTokens: state.usage.inputTokens,
    outputTokens: state.usage.outputTokens,
    costUsd: state.costUsd,
    turns: state.turns,
    toolCalls: state.toolCalls,
    startedAt: state.startedAt,
  };
}

export function isFinished(state: RunState): boolean {
  return state.phase === "completed" || state.phase === "failed";
}

/** Minimal structural check of a loaded document: refuses what this code cannot have written. */
export function asRunState(value: unknown): RunState | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const state = value as Partial<RunState>;
  if (state.v !== RUN_STATE_VERSION || typeof state.runId !== "string" || !Array.isArray(state.transcript))
    return undefined;
  if (!Array.isArray(state.pending) || !Array.isArray(state.applied) || !Array.isArray(state.outbox)) return undefined;
  return state as RunState;
}
