import type { Run } from "../../../../clients/memory/schemas.ts";
import type { CreateRunOutcome, RunListing, RunUpdate, UpdateRunOutcome } from "../backend.ts";
import { isTerminal, listMember } from "../shared.ts";
import type { InstanceState } from "./state.ts";

function liveRun(state: InstanceState, id: string, now: number) {
  const stored = state.runs.get(id);
  if (stored && stored.run.expiresAt !== null && stored.run.expiresAt <= now) {
    state.runs.delete(id);
    return undefined;
  }
  return stored;
}

/** The global run id -> instance index is the caller's: it checked the id is free or already ours. */
export function createRun(state: InstanceState, run: Run): CreateRunOutcome {
  const existing = liveRun(state, run.id, run.createdAt);
  if (existing) return { kind: "exists", run: existing.run };
  state.runs.set(run.id, { run });
  return { kind: "created", run };
}

export function getRun(state: InstanceState, id: string, now: number): Run | undefined {
  return liveRun(state, id, now)?.run;
}

export function updateRun(state: InstanceState, id: string, update: RunUpdate): UpdateRunOutcome {
  const stored = liveRun(state, id, update.now);
  if (!stored) return { kind: "missing" };
  const current = stored.run;
  if (current.version !== update.expectedVersion) {
    const replay =
      update.updateId !== undefined &&
      stored.lastUpdateId === update.updateId &&
      current.version === update.expectedVersion + 1;
    return replay ? { kind: "ok", run: current } : { kind: "version_mismatch", version: current.version };
  }
  const status = update.status ?? current.status;
  const run: Run = {
    ...current,
    status,
    state: update.state ?? current.state,
    version: current.version + 1,
    updatedAt: update.now,
    expiresAt: isTerminal(status) ? update.now + update.retentionMs : null,
  };
  state.runs.set(id, { run, lastUpdateId: update.updateId });
  return { kind: "ok", run };
}

export function listRuns(state: InstanceState, input: RunListing): { runs: Run[]; next: string | null } {
  const entries: Array<{ member: string; run: Run }> = [];
  for (const id of [...state.runs.keys()]) {
    const run = liveRun(state, id, input.now)?.run;
    if (!run || (input.status !== undefined && run.status !== input.status)) continue;
    const member = listMember(run.createdAt, run.id);
    if (input.after === undefined || member < input.after) entries.push({ member, run });
  }
  entries.sort((a, b) => (a.member < b.member ? 1 : -1));
  const page = entries.slice(0, input.limit);
  return {
    runs: page.map((entry) => entry.run),
    next: entries.length > input.limit ? page[page.length - 1]!.member : null,
  };
}
