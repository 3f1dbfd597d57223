import type { AuditEntry } from "../../../../clients/memory/schemas.ts";
import type { AuditAppend, AuditRange } from "../backend.ts";
import { compareStreamIds, DAY_MS } from "../shared.ts";
import { type InstanceState, live } from "./state.ts";

/** Stream ids like Redis': `<ms>-<seq>`, strictly increasing even if the clock steps back. */
export function appendAudit(state: InstanceState, input: AuditAppend): string[] {
  const now = input.now;
  if (input.batchKey !== undefined) {
    const previous = live(state.auditBatches, input.batchKey, now);
    if (previous) return previous.value;
  }
  const ids: string[] = [];
  for (const entry of input.entries) {
    const last = state.audit[state.audit.length - 1];
    const ms = last && last.ms >= now ? last.ms : now;
    const seq = last && last.ms === ms ? last.seq + 1 : 0;
    const id = `${ms}-${seq}`;
    state.audit.push({ id, ms, seq, entry });
    ids.push(id);
  }
  if (state.audit.length > input.maxLength) state.audit.splice(0, state.audit.length - input.maxLength);
  if (input.batchKey !== undefined) state.auditBatches.set(input.batchKey, { value: ids, expiresAt: now + DAY_MS });
  return ids;
}

export function readAudit(state: InstanceState, range: AuditRange): AuditEntry[] {
  const inRange = state.audit.filter(
    (stored) =>
      (range.after === undefined || compareStreamIds(stored.id, range.after) > 0) &&
      (range.before === undefined || compareStreamIds(stored.id, range.before) < 0),
  );
  if (range.order === "desc") inRange.reverse();
  return inRange.slice(0, range.limit).map((stored) => ({
    id: stored.id,
    at: stored.ms,
    type: stored.entry.type,
    ...(stored.entry.runId === undefined ? {} : { runId: stored.entry.runId }),
    by: stored.entry.by,
    data: stored.entry.data as AuditEntry["data"],
  }));
}
