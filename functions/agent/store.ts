import { type MemoryClient, MemoryError } from "../../clients/memory/client.ts";
import type { RunStatus } from "../../clients/memory/contract/runs.ts";
import { DEADLINE_TIMER } from "./run/deadlines.ts";
import { asRunState, type RunPhase, type RunState } from "./run/state.ts";

/**
 * What the agent needs from the memory service, as one small port (so the loop reads as ARCHITECTURE.md describes it
 * and tests can count what it does): runs under compare-and-set, the session window, notes, locks with fencing tokens,
 * audit. `memoryStore` implements it over the typed memory client; the instance is fixed by the token anyway.
 */
interface RunRecord {
  state: RunState;
  version: number;
}

interface SessionTurn {
  id: string;
  role: "user" | "assistant";
  content: string;
  at?: number;
}

export interface SessionView {
  summary: string | undefined;
  messages: SessionTurn[];
  /** Older messages exist that did not fit. */
  truncated: boolean;
}

/** A page from the oldest end of a session: what compaction folds into the summary next. */
export interface SessionPage {
  generation: number;
  summary: string | undefined;
  messages: Array<{ id: string; role: string; content: string }>;
  /** Messages stored after the summary (the page may hold fewer). */
  total: number;
}

export interface AgentStore {
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Creates the run at version 1, or answers `created: false` with the run someone else created first. */
  createRun(state: RunState): Promise<{ created: boolean; record: RunRecord }>;
  /** Compare-and-set: `conflict` when the run is no longer at `expectedVersion`. */
  updateRun(state: RunState, expectedVersion: number): Promise<{ ok: true; version: number } | { ok: false }>;
  listActiveRuns(): Promise<RunRecord[]>;
  /**
   * The run's one due-time timer (run/deadlines.ts): the memory service wakes this agent with timer.fired at
   * `dueAt`. `version` is the run's: an arm from an older state never moves a newer one's timer.
   */
  armDeadline(state: RunState, dueAt: number, version: number): Promise<void>;
  disarmDeadline(runId: string): Promise<void>;
  /** A run blob (run/blobs.ts): content stored beside the run under its sha256. */
  putBlob(runId: string, content: string): Promise<void>;
  getBlob(runId: string, sha256: string): Promise<string | undefined>;
  /** Small instance-scoped values with a TTL (the compaction backoff of a session). */
  getValue(key: string): Promise<string | undefined>;
  putValue(key: string, value: string, ttlMs: number): Promise<void>;
  deleteValue(key: string): Promise<void>;
  readSession(sessionKey: string, options: { maxTokens: number; last: number; idleMs?: number }): Promise<SessionView>;
  appendSession(sessionKey: string, turns: SessionTurn[], options: { idleMs?: number }): Promise<void>;
  resetSession(sessionKey: string): Promise<void>;
  /** The oldest messages not yet compacted, at most `last` and about `maxTokens` (the oldest one always). */
  readOldestSession(sessionKey: string, options: { maxTokens: number; last: number }): Promise<SessionPage>;
  /** Replaces the messages through `throughId` by the summary, only within `generation` (a reset in between wins). */
  compactSession(sessionKey: string, throughId: string, summary: string, generation: number): Promise<void>;
  searchNotes(query: string, options: { user?: string; limit: number }): Promise<string[]>;
  acquireLock(name: string, owner: string, ttlMs: number): Promise<number | undefined>;
  lockHolder(name: string): Promise<{ owner: string; token: number } | undefined>;
  /** Extends a lock `owner` holds with `token` to `ttlMs` from now; false when it is no longer theirs. */
  renewLock(name: string, owner: string, token: number, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string, token: number): Promise<void>;
  audit(
    entries: Array<{ type: string; runId?: string; data?: Record<string, unknown> }>,
    batchKey?: string,
  ): Promise<void>;
}

const STATUS_OF: Record<RunPhase, RunStatus> = {
  running: "running",
  waiting: "waiting",
  completed: "completed",
  failed: "failed",
};

export function memoryStore(client: MemoryClient, instance: string): AgentStore {
  const record = (run: { state: Record<string, unknown>; version: number; id: string }): RunRecord => {
    const state = asRunState(run.state);
    if (state === undefined) throw new Error(`run ${run.id} holds a state this agent cannot read`);
    return { state, version: run.version };
  };
  // The state is plain JSON by construction (the machine builds it from parsed events and JSON values); the client
  // serialises it once. Absent optional fields are undefined and simply not written.
  const asJson = (state: RunState) => state as unknown as Record<string, never>;
  return {
    async getRun(runId) {
      const run = await client.getRun(instance, runId);
      return run === undefined ? undefined : record(run);
    },
    async createRun(state) {
      const { run, created } = await client.createRun(instance, {
        id: state.runId,
        status: STATUS_OF[state.phase],
        state: asJson(state),
      });
      return { created, record: record(run) };
    },
    async updateRun(state, expectedVersion) {
      try {
        const run = await client.updateRun(instance, state.runId, {
          expectedVersion,
          status: STATUS_OF[state.phase],
          state: asJson(state),
        });
        return { ok: true, version: run.version };
      } catch (error) {
        if (error instanceof MemoryError && (error.status === 412 || error.status === 409)) return { ok: false };
        throw error;
      }
    },
    async listActiveRuns() {
      const out: RunRecord[] = [];
      for (const status of ["running", "waiting"] as const) {
        let cursor: string | undefined;
        do {
          const page = await client.listRuns(instance, { status, limit: 200, ...(cursor ? { cursor } : {}) });
          for (const run of page.runs) {
            const state = asRunState(run.state);
            if (state !== undefined) out.push({ state, version: run.version });
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
      }
      return out;
    },
    async armDeadline(state, dueAt, version) {
      await client.armTimer(deadlineTimer(instance, state.runId), {
        dueAt,
        version,
        // The woken step continues the run's trace.
        ...(state.trace?.traceparent !== undefined ? { traceparent: state.trace.traceparent } : {}),
        ...(state.trace?.tracestate !== undefined ? { tracestate: state.trace.tracestate } : {}),
      });
    },
    async disarmDeadline(runId) {
      await client.disarmTimer(deadlineTimer(instance, runId));
    },
    async putBlob(runId, content) {
      await client.putRunBlob(instance, runId, content);
    },
    getBlob(runId, sha256) {
      return client.getRunBlob(instance, runId, sha256);
    },
    async getValue(key) {
      return (await client.getValue({ instance }, key))?.value ?? undefined;
    },
    async putValue(key, value, ttlMs) {
      await client.putValue({ instance }, key, value, ttlMs);
    },
    async deleteValue(key) {
      await client.deleteValue({ instance }, key);
    },
    async readSession(sessionKey, options) {
      const window = await client.readSession(instance, sessionKey, {
        maxTokens: options.maxTokens,
        last: options.last,
        ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
      });
      if (window.expired) return { summary: undefined, messages: [], truncated: false };
      return {
        summary: window.summary?.content,
        messages: window.messages
          .filter((m) => m.role === "user" || m.role === "assistant")
          .map((m) => ({ id: m.id, role: m.role as "user" | "assistant", content: m.content, at: m.at })),
        truncated: window.truncated,
      };
    },
    async appendSession(sessionKey, turns, options) {
      await client.appendMessages(instance, sessionKey, {
        messages: turns.map((turn) => ({
          id: turn.id,
          role: turn.role,
          content: turn.content,
          ...(turn.at !== undefined ? { at: turn.at } : {}),
        })),
        ...(options.idleMs !== undefined ? { reset: { idleMs: options.idleMs } } : {}),
      });
    },
    async resetSession(sessionKey) {
      await client.resetSession(instance, sessionKey);
    },
    async readOldestSession(sessionKey, options) {
      const page = await client.readSession(instance, sessionKey, {
        from: "oldest",
        maxTokens: options.maxTokens,
        last: options.last,
      });
      return {
        generation: page.generation,
        summary: page.summary?.content,
        messages: page.messages.map((m) => ({ id: m.id, role: m.role, content: m.content })),
        total: page.total,
      };
    },
    async compactSession(sessionKey, throughId, summary, generation) {
      await client.compactSession(instance, sessionKey, {
        throughId,
        summary: { content: summary },
        expectedGeneration: generation,
      });
    },
    async searchNotes(query, options) {
      const results = await client.searchNotes(instance, {
        query: query.slice(0, 1000),
        limit: options.limit,
        ...(options.user !== undefined ? { user: options.user } : {}),
      });
      return results.map((result) => result.note.text);
    },
    async acquireLock(name, owner, ttlMs) {
      const answer = await client.acquireLock(instance, name, { owner, ttlMs });
      return answer.acquired ? answer.token : undefined;
    },
    async lockHolder(name) {
      const state = await client.getLock(instance, name);
      return state.held ? { owner: state.owner, token: state.token } : undefined;
    },
    async renewLock(name, owner, token, ttlMs) {
      return (await client.renewLock(instance, name, { owner, token, ttlMs })).renewed;
    },
    async releaseLock(name, owner, token) {
      await client.releaseLock(instance, name, { owner, token });
    },
    async audit(entries, batchKey) {
      await client.appendAudit(
        instance,
        entries.map((entry) => ({
          type: entry.type,
          ...(entry.runId ? { runId: entry.runId } : {}),
          ...(entry.data ? { data: entry.data as never } : {}),
        })),
        batchKey,
      );
    },
  };
}

function deadlineTimer(instance: string, runId: string) {
  return { instance, target: "agent" as const, kind: DEADLINE_TIMER, id: runId };
}
