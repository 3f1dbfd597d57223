import { stateOf } from "../embedded/maps.ts";
import type {
  AppendInput,
  AppendOutcome,
  CompactInput,
  CompactResult,
  GenerationGuarded,
  OffsetPage,
  ReadInput,
  ResetInput,
  SessionActivity,
  SessionStore,
  StoredMessage,
  StoredWindow,
  TrimInput,
  TrimOutcome,
  WindowRequest,
} from "./store.ts";

interface SessionState {
  generation: number;
  activeAt: number;
  /** Sequence number of the first stored message; sequence numbers increase by one per appended message. */
  head: number;
  seq: number;
  summaryJson: string | null;
  summaryTokens: number;
  messages: StoredMessage[];
  /** Every message id of this generation (trimmed and compacted ones too) -> its sequence number. */
  ids: Map<string, number>;
}

type Sessions = Map<string, SessionState>;

function emptySession(now: number): SessionState {
  return {
    generation: 0,
    activeAt: now,
    head: 1,
    seq: 0,
    summaryJson: null,
    summaryTokens: 0,
    messages: [],
    ids: new Map(),
  };
}

function startOver(session: SessionState): void {
  session.generation += 1;
  session.head = session.seq + 1;
  session.messages = [];
  session.ids = new Map();
  session.summaryJson = null;
  session.summaryTokens = 0;
}

/** The newest messages that fit `last` and `maxTokens` (the summary is counted first when there is a budget). */
function windowOf(session: SessionState, spec: WindowRequest): StoredWindow {
  if (spec.from === "oldest") return oldestOf(session, spec);
  const total = session.messages.length;
  let count = Math.min(spec.last, total);
  let summaryJson = session.summaryJson;
  if (spec.maxTokens !== undefined) {
    let budget = spec.maxTokens;
    if (summaryJson !== null) {
      if (session.summaryTokens <= budget) budget -= session.summaryTokens;
      else summaryJson = null;
    }
    let fitting = 0;
    while (fitting < count) {
      const message = session.messages[total - 1 - fitting]!;
      if (message.tokens > budget) break;
      budget -= message.tokens;
      fitting += 1;
    }
    count = fitting;
  }
  return {
    generation: session.generation,
    expired: false,
    summaryJson,
    messagesJson: session.messages
      .slice(total - count)
      .map((message) => message.json)
      .join(","),
    count,
    total,
    truncated: count < total,
  };
}

/** The oldest messages within `last` and `maxTokens`, the first one always; the summary whole and not counted. */
function oldestOf(session: SessionState, spec: WindowRequest): StoredWindow {
  const total = session.messages.length;
  const limit = Math.min(spec.last, total);
  let count = limit;
  if (spec.maxTokens !== undefined && limit > 0) {
    let budget = spec.maxTokens - session.messages[0]!.tokens;
    count = 1;
    while (count < limit && session.messages[count]!.tokens <= budget) {
      budget -= session.messages[count]!.tokens;
      count += 1;
    }
  }
  return {
    generation: session.generation,
    expired: false,
    summaryJson: session.summaryJson,
    messagesJson: session.messages
      .slice(0, count)
      .map((message) => message.json)
      .join(","),
    count,
    total,
    truncated: count < total,
  };
}

/** Sessions in process, per instance. */
export class EmbeddedSessionStore implements SessionStore {
  readonly #instances = new Map<string, Sessions>();

  #of(instance: string): Sessions {
    return stateOf(this.#instances, instance, () => new Map());
  }

  async append(instance: string, key: string, input: AppendInput): Promise<AppendOutcome> {
    const sessions = this.#of(instance);
    let session = sessions.get(key);
    let reset = false;
    if (!session) {
      session = emptySession(input.now);
      sessions.set(key, session);
    } else if (session.activeAt < input.resetBefore) {
      startOver(session);
      reset = true;
    }
    const duplicates: string[] = [];
    let appended = 0;
    for (const message of input.messages) {
      if (session.ids.has(message.id)) {
        duplicates.push(message.id);
        continue;
      }
      session.seq += 1;
      session.ids.set(message.id, session.seq);
      session.messages.push(message);
      appended += 1;
    }
    session.activeAt = input.now;
    const outcome: AppendOutcome = {
      generation: session.generation,
      reset,
      appended,
      duplicates,
      total: session.messages.length,
    };
    if (input.window) outcome.window = windowOf(session, input.window);
    return outcome;
  }

  async read(instance: string, key: string, input: ReadInput): Promise<StoredWindow> {
    const sessions = this.#of(instance);
    const session = sessions.get(key);
    if (!session) {
      return {
        generation: 0,
        expired: false,
        summaryJson: null,
        messagesJson: "",
        count: 0,
        total: 0,
        truncated: false,
      };
    }
    if (session.activeAt < input.resetBefore) {
      return {
        generation: session.generation,
        expired: true,
        summaryJson: null,
        messagesJson: "",
        count: 0,
        total: 0,
        truncated: false,
      };
    }
    return windowOf(session, input.window);
  }

  async trim(instance: string, key: string, input: TrimInput): Promise<GenerationGuarded<TrimOutcome>> {
    const sessions = this.#of(instance);
    const session = sessions.get(key);
    const generation = session?.generation ?? 0;
    if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation)
      return { ok: false, generation };
    if (!session) return { ok: true, generation, removed: 0, total: 0 };
    const removed = Math.max(0, session.messages.length - input.keepLast);
    session.messages.splice(0, removed);
    session.head += removed;
    return { ok: true, generation, removed, total: session.messages.length };
  }

  async compact(instance: string, key: string, input: CompactInput): Promise<CompactResult> {
    const sessions = this.#of(instance);
    const session = sessions.get(key);
    const generation = session?.generation ?? 0;
    if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation) {
      return { kind: "generation_mismatch", generation };
    }
    const seq = session?.ids.get(input.throughId);
    if (!session || seq === undefined) return { kind: "unknown_message" };
    if (seq < session.head) {
      return {
        kind: "ok",
        generation,
        removed: 0,
        total: session.messages.length,
        alreadyCompacted: true,
        summaryJson: session.summaryJson,
      };
    }
    const removed = seq - session.head + 1;
    session.messages.splice(0, removed);
    session.head = seq + 1;
    session.summaryJson = input.summaryJson;
    session.summaryTokens = input.summaryTokens;
    return {
      kind: "ok",
      generation,
      removed,
      total: session.messages.length,
      alreadyCompacted: false,
      summaryJson: input.summaryJson,
    };
  }

  async reset(instance: string, key: string, input: ResetInput): Promise<GenerationGuarded<{ generation: number }>> {
    const sessions = this.#of(instance);
    let session = sessions.get(key);
    const generation = session?.generation ?? 0;
    if (input.expectedGeneration !== undefined && input.expectedGeneration !== generation)
      return { ok: false, generation };
    if (!session) {
      session = emptySession(input.now);
      sessions.set(key, session);
    }
    startOver(session);
    session.activeAt = input.now;
    return { ok: true, generation: session.generation };
  }

  /** Most recently active first; equal times in descending key order (as Redis' ZREVRANGE orders them). */
  async list(instance: string, page: OffsetPage): Promise<{ sessions: SessionActivity[]; more: boolean }> {
    const sessions = this.#of(instance);
    const all = [...sessions]
      .map(([sessionKey, session]) => ({ sessionKey, activeAt: session.activeAt }))
      .sort(
        (a, b) => b.activeAt - a.activeAt || (a.sessionKey < b.sessionKey ? 1 : a.sessionKey > b.sessionKey ? -1 : 0),
      );
    return { sessions: all.slice(page.offset, page.offset + page.limit), more: all.length > page.offset + page.limit };
  }
}
