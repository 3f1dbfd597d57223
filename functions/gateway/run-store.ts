import type { KeyValueState } from "../../clients/memory/key-value.ts";
import { LEASE_SECONDS, runOnce } from "../../clients/memory/run-once.ts";
import type { RunRequested } from "../../eventing/catalog/events.ts";

/**
 * What the gateway remembers about the runs it started, in the memory service so any replica can answer: a record
 * per run (status and outcome) and an append-only log of what happened (messages, approval requests, the outcome),
 * which the SSE endpoint replays from any point. The log is a sequence of keys `gw:ev:<run>:<n>`; each slot is
 * claimed with set-if-absent, so concurrent appends from two replicas never overwrite each other, and each
 * CloudEvent is appended at most once however often the broker redelivers it.
 */
type RunStatus = "queued" | "completed" | "failed";

export interface RunRecord {
  runId: string;
  instance: string;
  status: RunStatus;
  createdAt: string;
  /** Name of the gateway token that started it (never the token). */
  createdBy: string;
  output?: string;
  reason?: string;
  message?: string;
  usage?: { inputTokens: number; outputTokens: number };
  costUsd?: number;
  durationMs?: number;
  finishedAt?: string;
}

export type RunEventType = "message" | "approval" | "approval_resolved" | "completed" | "failed";

export interface RunEvent {
  seq: number;
  type: RunEventType;
  at: string;
  data: Record<string, unknown>;
  /** The CloudEvent it came from (absent in events stored before it was kept). */
  eventId?: string;
}

export interface ApprovalRecord {
  approvalId: string;
  runId: string;
  callId: string;
  instance: string;
  digest: string;
  expiresAt: string;
  /** Who may decide (approver entries from approval.requested); absent when the agent named none. */
  approvers?: string[];
}

/** The agent's final verdict on an approval (approval.resolved): after it, every decision is too late. */
export interface ApprovalVerdict {
  outcome: "approved" | "denied" | "expired";
  /** `<channel>:<id>` of who decided (absent for expired). */
  decidedBy?: string;
  at: string;
}

/** The decision this gateway forwarded and the agent has not ruled on yet. */
export interface PendingDecision {
  by: string;
  decision: "approve" | "deny";
}

const KEEP_SECONDS = 7 * 24 * 3600;
/** Characters of a stored request per value (the memory service keeps values of up to 65,536). */
const REQUEST_PART = 60_000;

function requestKey(runId: string, part: number): string {
  return part === 0 ? `gw:req:${runId}` : `gw:req:${runId}:${part}`;
}
const MAX_EVENTS = 10_000;

export class RunStore {
  private readonly kv: KeyValueState;
  constructor(kv: KeyValueState) {
    this.kv = kv;
  }

  /** The key space once-only emits are recorded in (the same store, so every replica sees them). */
  get kvForEmits(): KeyValueState {
    return this.kv;
  }

  /** Store a new run; false when one with this id exists already (a retried request). */
  create(record: RunRecord): Promise<boolean> {
    return this.kv.setIfAbsent(`gw:run:${record.runId}`, JSON.stringify(record), KEEP_SECONDS);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const raw = await this.kv.get(`gw:run:${runId}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as RunRecord);
  }

  async finish(record: RunRecord): Promise<void> {
    await this.kv.set(`gw:run:${record.runId}`, JSON.stringify(record), KEEP_SECONDS);
  }

  /**
   * Append one event, at most once per CloudEvent id, a crash included: before an attempt takes a slot it records
   * which, under the event's id (`gw:evat:`), so an attempt after a crash between the slot and the done mark finds
   * the event where the dead one put it instead of appending it twice.
   */
  async append(
    runId: string,
    eventId: string,
    type: RunEventType,
    data: Record<string, unknown>,
    at: string,
  ): Promise<void> {
    await runOnce(
      this.kv,
      `gw:evid:${runId}:${eventId}`,
      { leaseSeconds: LEASE_SECONDS, keepSeconds: KEEP_SECONDS },
      async () => {
        const placedKey = `gw:evat:${runId}:${eventId}`;
        const placed = Number(await this.kv.get(placedKey));
        if (placed > 0 && (await this.read(runId, placed - 1, 1))[0]?.eventId === eventId) return;
        const hint = Number((await this.kv.get(`gw:evn:${runId}`)) ?? 0);
        for (let seq = Number.isInteger(hint) && hint > 0 ? hint : 1; seq <= MAX_EVENTS; seq++) {
          const event: RunEvent = { seq, type, at, data, eventId };
          await this.kv.set(placedKey, String(seq), KEEP_SECONDS);
          if (await this.kv.setIfAbsent(`gw:ev:${runId}:${seq}`, JSON.stringify(event), KEEP_SECONDS)) {
            // Only a hint for the next append's starting point; readers never rely on it.
            await this.kv.set(`gw:evn:${runId}`, String(seq + 1), KEEP_SECONDS);
            return;
          }
        }
        throw new Error(`run ${runId} has too many events`);
      },
    );
  }

  /** Events after `afterSeq`, in order, up to `limit`. */
  async read(runId: string, afterSeq: number, limit = 100): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    for (let seq = afterSeq + 1; events.length < limit; seq++) {
      const raw = await this.kv.get(`gw:ev:${runId}:${seq}`);
      if (raw === undefined) break;
      events.push(JSON.parse(raw) as RunEvent);
    }
    return events;
  }

  /**
   * Keep what a run was asked to do, so a stranded run can be re-driven (redrive.ts). A value holds at most 64 Ki
   * characters, so a large input is kept in parts: `gw:req:<run>` holds the number of parts and the first.
   */
  async saveRequest(request: RunRequested): Promise<void> {
    // ASCII only (JSON escapes for the rest), so a cut between two parts never splits a character.
    const json = JSON.stringify(request).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    const parts = Math.max(1, Math.ceil(json.length / REQUEST_PART));
    for (let part = parts - 1; part >= 0; part--) {
      const text = json.slice(part * REQUEST_PART, (part + 1) * REQUEST_PART);
      await this.kv.set(requestKey(request.runId, part), part === 0 ? `${parts}:${text}` : text, KEEP_SECONDS);
    }
  }

  async request(runId: string): Promise<RunRequested | undefined> {
    const first = await this.kv.get(requestKey(runId, 0));
    const header = first === undefined ? null : /^(\d+):/.exec(first);
    if (first === undefined || header === null) return undefined;
    let json = first.slice(header[0].length);
    for (let part = 1; part < Number(header[1]); part++) {
      const text = await this.kv.get(requestKey(runId, part));
      if (text === undefined) return undefined;
      json += text;
    }
    return JSON.parse(json) as RunRequested;
  }

  async rememberApproval(approval: ApprovalRecord): Promise<void> {
    await this.kv.set(`gw:approval:${approval.approvalId}`, JSON.stringify(approval), keepSeconds(approval.expiresAt));
  }

  async recallApproval(approvalId: string): Promise<ApprovalRecord | undefined> {
    return this.json<ApprovalRecord>(`gw:approval:${approvalId}`);
  }

  async rememberVerdict(approvalId: string, verdict: ApprovalVerdict): Promise<void> {
    await this.kv.set(`gw:approval-verdict:${approvalId}`, JSON.stringify(verdict), KEEP_SECONDS);
  }

  verdict(approvalId: string): Promise<ApprovalVerdict | undefined> {
    return this.json<ApprovalVerdict>(`gw:approval-verdict:${approvalId}`);
  }

  /**
   * Hold the approval for one forwarded decision until the agent rules on it, so a second decision is answered 409
   * instead of being forwarded to do nothing. Undefined when this call took the hold; otherwise the decision holding it.
   */
  async holdForDecision(approval: ApprovalRecord, decision: PendingDecision): Promise<PendingDecision | undefined> {
    const key = `gw:approval-decision:${approval.approvalId}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.kv.setIfAbsent(key, JSON.stringify(decision), keepSeconds(approval.expiresAt))) return undefined;
      // The holder may be released between the two calls: then try to take the hold again.
      const held = await this.json<PendingDecision>(key);
      if (held !== undefined) return held;
    }
    throw new Error(`the decision hold on approval ${approval.approvalId} kept changing`);
  }

  /** The agent refused `by`'s decision (or it was never sent): the approval is open to the real approvers again. */
  async releaseDecision(approvalId: string, by: string): Promise<void> {
    const key = `gw:approval-decision:${approvalId}`;
    if ((await this.json<PendingDecision>(key))?.by === by) await this.kv.delete(key);
  }

  private async json<T>(key: string): Promise<T | undefined> {
    const raw = await this.kv.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
}

/** Approval state outlives the approval by an hour, so a late decision still learns it expired. */
function keepSeconds(expiresAt: string): number {
  return Math.max(60, Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000) + 3600);
}
