import type {
  AcquireLockResponse,
  AuditEntry,
  ConsumeBudgetResponse,
  DeadLetter,
  DeadLetterError,
  DeadLetterSummary,
  DedupResponse,
  LockStateResponse,
  Note,
  PairingRecord,
  ReleaseLockResponse,
  RenewLockResponse,
  Run,
  RunStatus,
  ValueResponse,
} from "../../../clients/memory/schemas.ts";
import type { TermVector } from "../domain/text-index.ts";

/**
 * What the memory service needs from its store. Two implementations with the same semantics: Redis (Lua scripts
 * wherever a partial write would be possible) and an embedded in-process store for `knclaw dev`. Everything an
 * operation must decide atomically happens inside one call; callers pass the current time (`now`, ms) so that both
 * backends decide with the same clock.
 *
 * Infrastructure failures surface as StoreUnavailableError (the API answers 503); expected outcomes (not found,
 * version mismatch, caps) are results, never exceptions.
 */
export interface MemoryBackend {
  readonly kind: "redis" | "embedded";
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Sessions ------------------------------------------------------------------------------------------------------
  appendMessages(instance: string, sessionKey: string, input: AppendInput): Promise<AppendOutcome>;
  readSession(instance: string, sessionKey: string, input: ReadInput): Promise<StoredWindow>;
  trimSession(instance: string, sessionKey: string, input: TrimInput): Promise<GenerationGuarded<TrimOutcome>>;
  compactSession(instance: string, sessionKey: string, input: CompactInput): Promise<CompactResult>;
  resetSession(
    instance: string,
    sessionKey: string,
    input: ResetInput,
  ): Promise<GenerationGuarded<{ generation: number }>>;
  listSessions(instance: string, page: OffsetPage): Promise<{ sessions: SessionActivity[]; more: boolean }>;

  // Identities and pairing ----------------------------------------------------------------------------------------
  linkIdentities(instance: string, identities: string[]): Promise<PersonRecord>;
  getPerson(instance: string, identity: string): Promise<PersonRecord>;
  unlinkIdentity(instance: string, identity: string): Promise<PersonRecord>;
  requestPairing(instance: string, input: PairingInput): Promise<PairingOutcome>;
  listPairing(instance: string, now: number): Promise<PairingRecord[]>;
  decidePairing(instance: string, code: string, input: PairingDecision): Promise<DecisionOutcome>;
  setApproved(instance: string, identity: string, approved: boolean): Promise<void>;
  isApproved(instance: string, identity: string): Promise<boolean>;

  // Notes ---------------------------------------------------------------------------------------------------------
  addNote(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome>;
  getNote(instance: string, id: string): Promise<Note | undefined>;
  /** Applies `mutate` to the current note atomically (optimistically retried by the Redis backend). */
  updateNote(instance: string, id: string, mutate: NoteMutation): Promise<UpdateNoteOutcome>;
  deleteNote(instance: string, id: string): Promise<boolean>;
  listNotes(instance: string, owner: string, page: CursorPage): Promise<{ notes: Note[]; next: string | null }>;
  searchNotes(instance: string, input: NoteSearch): Promise<Array<{ note: Note; score: number }>>;

  // Runs ----------------------------------------------------------------------------------------------------------
  createRun(instance: string, run: Run): Promise<CreateRunOutcome>;
  getRun(instance: string, id: string, now: number): Promise<Run | undefined>;
  /** The run with this id whatever its instance (global index run id -> instance). */
  findRun(id: string, now: number): Promise<Run | undefined>;
  updateRun(instance: string, id: string, input: RunUpdate): Promise<UpdateRunOutcome>;
  listRuns(instance: string, input: RunListing): Promise<{ runs: Run[]; next: string | null }>;

  // Dedup and key/values ------------------------------------------------------------------------------------------
  claim(space: Space, input: ClaimInput): Promise<DedupResponse>;
  getValue(space: Space, key: string, now: number): Promise<ValueResponse | undefined>;
  putValue(space: Space, key: string, value: string, ttlMs: number, now: number): Promise<void>;
  deleteValue(space: Space, key: string, now: number): Promise<boolean>;

  // Budgets and locks ---------------------------------------------------------------------------------------------
  consumeBudget(instance: string, name: string, input: BudgetInput): Promise<ConsumeBudgetResponse>;
  acquireLock(instance: string, name: string, input: LockInput): Promise<AcquireLockResponse>;
  renewLock(instance: string, name: string, input: LockInput & { token: number }): Promise<RenewLockResponse>;
  releaseLock(
    instance: string,
    name: string,
    input: { owner: string; token: number; now: number },
  ): Promise<ReleaseLockResponse>;
  getLock(instance: string, name: string, now: number): Promise<LockStateResponse>;

  // Audit ---------------------------------------------------------------------------------------------------------
  appendAudit(instance: string, input: AuditAppend): Promise<string[]>;
  readAudit(instance: string, input: AuditRange): Promise<AuditEntry[]>;

  // Dead letters --------------------------------------------------------------------------------------------------
  /** Store-if-absent by id; an entry that exists counts one more arrival instead (unless it is the same request). */
  storeDeadLetter(queue: string, input: DeadLetterWrite): Promise<StoreDeadLetterOutcome>;
  getDeadLetter(queue: string, id: string, now: number): Promise<DeadLetter | undefined>;
  listDeadLetters(
    queue: string,
    input: DeadLetterListing,
  ): Promise<{ deadLetters: DeadLetterSummary[]; next: string | null }>;
  recordDeadLetterReplay(queue: string, id: string, input: ReplayRecord): Promise<DeadLetterSummary | undefined>;
  deleteDeadLetter(queue: string, id: string, now: number): Promise<boolean>;
}

/** The store cannot be reached or did not answer in time; the request may or may not have been applied. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** Dedup and key/values live in an instance's key space or in a component namespace (e.g. `slack`). */
export type Space = { kind: "instance"; name: string } | { kind: "namespace"; name: string };

// Sessions --------------------------------------------------------------------------------------------------------

/** A message ready to store: `json` is the SessionMessage as it will be answered, `tokens` its token count. */
export interface StoredMessage {
  id: string;
  tokens: number;
  json: string;
}

export interface WindowRequest {
  last: number;
  maxTokens?: number;
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

// Identities and pairing ------------------------------------------------------------------------------------------

/** A person and its identities as `<channel>:<sender>` strings. */
export interface PersonRecord {
  person: string;
  identities: string[];
}

export interface PairingInput {
  identity: string;
  /** A fresh code; the backend answers `collision` if it is taken and the caller draws another. */
  record: PairingRecord;
  now: number;
  maxPending: number;
}

export type PairingOutcome =
  | { kind: "approved" }
  | { kind: "pending"; record: PairingRecord; created: boolean }
  | { kind: "full" }
  | { kind: "collision" };

export interface PairingDecision {
  decision: "approved" | "denied";
  decidedBy: string;
  now: number;
}

export type DecisionOutcome =
  | { kind: "ok"; record: PairingRecord }
  | { kind: "missing" }
  | { kind: "conflict"; record: PairingRecord };

// Notes -----------------------------------------------------------------------------------------------------------

export interface NoteWrite {
  note: Note;
  vector: TermVector;
  /** `i` for the instance's notes, `u:<user>` for a user's. */
  owner: string;
}

export type AddNoteOutcome =
  | { kind: "created"; note: Note }
  | { kind: "exists"; note: Note }
  | { kind: "cap_exceeded" };

export type NoteMutation = (current: Note) => { kind: "write"; note: Note; vector: TermVector } | NoteRejection;
export type NoteRejection = { kind: "version_mismatch"; version: number };
export type UpdateNoteOutcome = { kind: "ok"; note: Note } | { kind: "missing" } | NoteRejection;

/** Keyset pagination over `<createdAt>:<id>` members, newest first (see shared.ts). */
export interface CursorPage {
  /** The last member of the previous page (exclusive). */
  after?: string;
  limit: number;
}

export interface NoteSearch {
  terms: string[];
  /** Owner keys whose notes may be returned. */
  owners: string[];
  limit: number;
}

// Runs ------------------------------------------------------------------------------------------------------------

export type CreateRunOutcome =
  | { kind: "created"; run: Run }
  | { kind: "exists"; run: Run }
  /** The id is taken by a run of another instance. */
  | { kind: "conflict" };

export interface RunUpdate {
  expectedVersion: number;
  status?: RunStatus;
  state?: Run["state"];
  /** How long the run is kept if this update finishes it. */
  retentionMs: number;
  updateId?: string;
  now: number;
}

export type UpdateRunOutcome =
  | { kind: "ok"; run: Run }
  | { kind: "missing" }
  | { kind: "version_mismatch"; version: number };

export interface RunListing extends CursorPage {
  status?: RunStatus;
  now: number;
}

// Dedup, budgets, locks, audit ------------------------------------------------------------------------------------

export interface ClaimInput {
  key: string;
  ttlMs: number;
  claim?: string;
  value?: string;
  now: number;
}

export interface BudgetInput {
  amount: number;
  limit: number;
  windowMs?: number;
  ttlMs?: number;
  requestId?: string;
  now: number;
}

export interface LockInput {
  owner: string;
  ttlMs: number;
  now: number;
}

export interface AuditAppend {
  entries: Array<{ type: string; runId?: string; by: string; data: Record<string, unknown> }>;
  batchKey?: string;
  /** Approximate cap on the stream's length (older entries are trimmed). */
  maxLength: number;
  now: number;
}

export interface AuditRange {
  after?: string;
  before?: string;
  limit: number;
  order: "asc" | "desc";
}

// Dead letters ----------------------------------------------------------------------------------------------------

export interface DeadLetterWrite {
  /** Derived from the event (domain/dead-letters.ts), so both backends agree on it. */
  id: string;
  /** The event's attributes as JSON, stored and answered without re-parsing. */
  attributesJson: string;
  /** Base64 of the data bytes; undefined when the event has none. */
  dataBase64?: string;
  dataBytes: number | null;
  error: DeadLetterError;
  /** Filter values (the `knclawinstance` extension, `type`, the failed destination), kept beside the entry. */
  filter: DeadLetterFilterValues;
  maxEntries: number;
  maxAgeMs: number;
  requestId?: string;
  now: number;
}

export interface DeadLetterFilterValues {
  instance: string | null;
  type: string;
  destination: string | null;
}

export interface StoreDeadLetterOutcome {
  created: boolean;
  deadLetter: DeadLetterSummary;
}

/** Keyset pagination over `<receivedAt>:<id>` members, newest first, with optional exact-match filters. */
export interface DeadLetterListing extends CursorPage {
  instance?: string;
  type?: string;
  destination?: string;
  now: number;
}

export interface ReplayRecord {
  requestId?: string;
  now: number;
}
