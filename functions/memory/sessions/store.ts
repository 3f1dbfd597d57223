/**
 * Sessions as the memory service stores them: messages with their token counts, a window of the newest ones, trims,
 * compaction into a summary and resets into a new generation. Implemented on Redis (redis.ts, scripts in lua.ts)
 * and in process (embedded.ts) with the same semantics; the contract suite runs against both.
 */
export interface SessionStore {
  append(instance: string, sessionKey: string, input: AppendInput): Promise<AppendOutcome>;
  read(instance: string, sessionKey: string, input: ReadInput): Promise<StoredWindow>;
  trim(instance: string, sessionKey: string, input: TrimInput): Promise<GenerationGuarded<TrimOutcome>>;
  compact(instance: string, sessionKey: string, input: CompactInput): Promise<CompactResult>;
  reset(instance: string, sessionKey: string, input: ResetInput): Promise<GenerationGuarded<{ generation: number }>>;
  /** Most recently active first. */
  list(instance: string, page: OffsetPage): Promise<{ sessions: SessionActivity[]; more: boolean }>;
}

/** A message ready to store: `json` is the SessionMessage as it will be answered, `tokens` its token count. */
export interface StoredMessage {
  id: string;
  tokens: number;
  json: string;
}

export interface WindowRequest {
  last: number;
  maxTokens?: number;
  /**
   * "oldest": the oldest messages still stored (those the next compaction folds into the summary), the summary always
   * answered and not counted, the oldest message even when it alone is over `maxTokens`. Reads only.
   */
  from?: "newest" | "oldest";
}

/** A session window with messages and summary still serialized (responses are assembled without re-parsing). */
export interface StoredWindow {
  generation: number;
  expired: boolean;
  summaryJson: string | null;
  /** The messages' JSON objects joined by commas (the inside of a JSON array), oldest first. */
  messagesJson: string;
  /** How many messages `messagesJson` holds. */
  count: number;
  total: number;
  truncated: boolean;
}

export interface AppendInput {
  messages: StoredMessage[];
  now: number;
  /** Start a new generation first if the last append happened before this instant (0: never). */
  resetBefore: number;
  window?: WindowRequest;
}

export interface AppendOutcome {
  generation: number;
  reset: boolean;
  appended: number;
  duplicates: string[];
  total: number;
  window?: StoredWindow;
}

export interface ReadInput {
  now: number;
  resetBefore: number;
  window: WindowRequest;
}

export interface TrimInput {
  keepLast: number;
  expectedGeneration?: number;
}

export interface TrimOutcome {
  generation: number;
  removed: number;
  total: number;
}

export type GenerationGuarded<T> = ({ ok: true } & T) | { ok: false; generation: number };

export interface CompactInput {
  throughId: string;
  summaryJson: string;
  summaryTokens: number;
  expectedGeneration?: number;
}

export type CompactResult =
  | {
      kind: "ok";
      generation: number;
      removed: number;
      total: number;
      alreadyCompacted: boolean;
      summaryJson: string | null;
    }
  | { kind: "generation_mismatch"; generation: number }
  | { kind: "unknown_message" };

export interface ResetInput {
  now: number;
  expectedGeneration?: number;
}

export interface OffsetPage {
  offset: number;
  limit: number;
}

export interface SessionActivity {
  sessionKey: string;
  activeAt: number;
}
