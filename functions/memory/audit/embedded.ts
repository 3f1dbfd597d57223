import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";
import { DAY_MS } from "../../../clients/memory/contract/fields.ts";
import { type Expiring, live, stateOf, sweepExpired } from "../embedded/maps.ts";
import type { AuditAppend, AuditRange, AuditStore } from "./store.ts";

interface StoredAuditEntry {
  id: string;
  ms: number;
  seq: number;
  entry: AuditAppend["entries"][number];
}

interface AuditState {
  audit: StoredAuditEntry[];
  /** batchKey -> the ids its append answered. */
  auditBatches: Map<string, Expiring<string[]>>;
}

/** Stream ids compare as (ms, seq) pairs. */
function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0;
}

/** The audit log in process, per instance. */
export class EmbeddedAuditStore implements AuditStore {
  readonly #instances = new Map<string, AuditState>();

  #of(instance: string): AuditState {
    return stateOf(this.#instances, instance, () => ({ audit: [], auditBatches: new Map() }));
  }

  /** Frees remembered batches older than a day. */
  sweep(now: number): void {
    for (const state of this.#instances.values()) sweepExpired(state.auditBatches, now);
  }

  /** Stream ids like Redis': `<ms>-<seq>`, strictly increasing even if the clock steps back. */
  async append(instance: string, input: AuditAppend): Promise<string[]> {
    const state = this.#of(instance);
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

  async read(instance: string, range: AuditRange): Promise<AuditEntry[]> {
    const state = this.#of(instance);
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
}
