import type { Budgets } from "./contract.ts";

/**
 * Budget checks as pure functions of what a run has used. A run that reaches a limit ends with
 * `budget_exceeded:<kind>`; the checks run before each model call (nothing is spent past a limit already reached)
 * and after it (a call that overshot ends the run before its tool calls run).
 */
export type BudgetKind =
  | "tokens"
  | "cost"
  | "tool_calls"
  | "model_turns"
  | "wall_clock"
  | "concurrent_runs_per_instance"
  | "concurrent_runs_per_sender";

export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  turns: number;
  toolCalls: number;
  startedAt: number;
}

export interface Price {
  /** USD per million input tokens. */
  inputPerMTok: number;
  outputPerMTok: number;
}

export function costOf(usage: { inputTokens: number; outputTokens: number }, price: Price | undefined): number {
  if (price === undefined) return 0;
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000;
}

export function exhaustedBeforeModelCall(usage: RunUsage, budgets: Budgets, now: number): BudgetKind | undefined {
  if (budgets.wallClockSeconds !== undefined && now - usage.startedAt >= budgets.wallClockSeconds * 1000)
    return "wall_clock";
  if (budgets.modelTurns !== undefined && usage.turns >= budgets.modelTurns) return "model_turns";
  if (budgets.tokens !== undefined && usage.inputTokens + usage.outputTokens >= budgets.tokens) return "tokens";
  if (budgets.costUsd !== undefined && usage.costUsd >= budgets.costUsd) return "cost";
  return undefined;
}

export function overshotAfterModelCall(usage: RunUsage, budgets: Budgets): BudgetKind | undefined {
  if (budgets.tokens !== undefined && usage.inputTokens + usage.outputTokens > budgets.tokens) return "tokens";
  if (budgets.costUsd !== undefined && usage.costUsd > budgets.costUsd) return "cost";
  return undefined;
}

export function wallClockExceeded(usage: Pick<RunUsage, "startedAt">, budgets: Budgets, now: number): boolean {
  return budgets.wallClockSeconds !== undefined && now - usage.startedAt >= budgets.wallClockSeconds * 1000;
}

/** Executing `more` calls would pass the tool-call budget. */
export function toolCallsWouldExceed(executed: number, more: number, budgets: Budgets): boolean {
  return budgets.toolCalls !== undefined && executed + more > budgets.toolCalls;
}

/** Output tokens the next call may use so a token budget is not overshot by much. */
export function outputAllowance(usage: RunUsage, budgets: Budgets, configured: number): number {
  if (budgets.tokens === undefined) return configured;
  const left = budgets.tokens - usage.inputTokens - usage.outputTokens;
  return Math.max(1, Math.min(configured, left));
}

export function describeBudget(kind: BudgetKind, budgets: Budgets): string {
  switch (kind) {
    case "tokens":
      return `the token budget (${budgets.tokens} tokens)`;
    case "cost":
      return `the cost budget (${budgets.costUsd} USD)`;
    case "tool_calls":
      return `the tool-call budget (${budgets.toolCalls} calls)`;
    case "model_turns":
      return `the model-turn budget (${budgets.modelTurns} turns)`;
    case "wall_clock":
      return `the time budget (${budgets.wallClockSeconds} s)`;
    case "concurrent_runs_per_instance":
      return `the limit of ${budgets.concurrentRunsPerInstance} concurrent runs for this agent`;
    case "concurrent_runs_per_sender":
      return `the limit of ${budgets.concurrentRunsPerSender} concurrent runs per person`;
  }
}
