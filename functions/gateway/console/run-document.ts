/**
 * What the console reads of an agent's run document (the `state` the agent keeps in the memory service, written by
 * functions/agent/run/state.ts). A function never imports another, so the fields the console shows are declared
 * here; every one is optional on read (`Partial<RunDocument>`), so an older or newer document still renders.
 */
export interface RunDocument {
  model: string;
  userText: string;
  requester: { channel: string; id: string };
  trace: { traceparent?: string };
  contractVersion: string;
  turns: number;
  toolCalls: number;
  usage: { inputTokens: number; outputTokens: number };
  costUsd: number;
  turnLog: Array<{
    turn: number;
    at: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    latencyMs?: number;
    finishReason: string;
    toolCalls: number;
  }>;
  transcript: Array<
    | { role: "user"; content: string }
    | { role: "assistant"; content: string; toolCalls?: Array<{ id: string; name: string; arguments: string }> }
    | { role: "tool"; callId: string; name: string; content: string; isError: boolean }
  >;
  pending: Array<{
    providerId: string;
    name: string;
    arguments: string;
    ref?: string;
    status: "requested" | "awaiting_approval" | "done";
    attempt: number;
    approval?: { id: string; expiresAt: number; approvers?: string[] };
    result?: { content: string; isError: boolean; errorClass?: string };
  }>;
  outcome: { status: "completed" | "failed"; reason?: string; output: string; message?: string };
}
