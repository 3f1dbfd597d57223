import type { Budgets } from "../policy/contract.ts";
import { isFinished, type RunState } from "./state.ts";

/** The kind of the agent's timers: one per run (its id the run id), at the run's next deadline. */
export const DEADLINE_TIMER = "deadline";

/**
 * When the next "time passed" input (machine.ts `sweep`) would change this run, or undefined when no time can: the
 * earliest of an approval's expiry, an unanswered call's deadline and the wall-clock budget. The agent keeps one
 * due-time timer per run at this instant (ARCHITECTURE.md, "Deadlines"), so the run is woken exactly when, and only
 * when, a deadline passes. Each instant is the first at which the machine's own comparison holds: an approval or a
 * call expires once `now` is past its time, the wall clock once `now - startedAt` reaches the budget.
 */
export function nextDeadline(state: RunState, budgets: Budgets): number | undefined {
  if (isFinished(state)) return undefined;
  let next = budgets.wallClockSeconds === undefined ? Infinity : state.startedAt + budgets.wallClockSeconds * 1000;
  for (const call of state.pending) {
    if (call.status === "awaiting_approval" && call.approval !== undefined) {
      next = Math.min(next, call.approval.expiresAt + 1);
    } else if (call.status === "requested" && call.deadlineAt !== undefined) {
      next = Math.min(next, call.deadlineAt + 1);
    }
  }
  return next === Infinity ? undefined : next;
}
