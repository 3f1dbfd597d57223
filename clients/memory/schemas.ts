import { z } from "zod";

/**
 * The memory service's wire contract (functions/memory/README.md describes the routes). Request schemas are strict so
 * that a misspelt field is a 400 with its path instead of a silently ignored option; response schemas document what
 * the service answers and let tests check it.
 */

// ---------------------------------------------------------------------------------------------------------------
// Names and ids
// ---------------------------------------------------------------------------------------------------------------

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS label: lowercase letters, digits and '-'");

/** An agent instance; also the hash tag of all of its keys. */
export const InstanceName = dnsLabel;
/** A component-wide key space for dedup and key/values that belong to no instance (e.g. `slack`). */
export const NamespaceName = dnsLabel;
export const ChannelName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "lowercase letters, digits and '-'");

/** Printable ASCII without spaces: safe inside Redis keys and URL path segments (once percent-encoded). */
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

/** Free text that ends up in keys or logs: anything but control characters. */
const visible = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => ![...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), {
      message: "must not contain control characters",
    });

const slug = (max: number) =>
  z.string().regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${max - 1}}$`), "letters, digits, '.', '_' and '-'");

export const MessageId = printable(200);
export const SessionKey = printable(512);
export const RunId = slug(128);
export const NoteId = slug(128);
/** A person id (what identity links resolve to) or any stable user id notes are kept for. */
export const UserId = visible(300);
/** The platform's own user id; include the workspace when the platform scopes ids by it (e.g. `T012:U345`). */
export const SenderId = visible(256);
export const ScheduleName = visible(200);
/** Budget and lock names: `tokens:daily`, `run:abc:tool-calls`, `schedule:nightly`. */
export const ResourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, "letters, digits, '.', '_', ':' and '-'");
/** Client-chosen ids that make a retried request harmless. */
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "letters, digits, '_' and '-'");
export const DedupKey = printable(512);
export const LockOwner = printable(200);
/** A Redis stream id (`<ms>-<seq>`); also the SSE event id of an audit entry. */
export const StreamId = z.string().regex(/^\d{1,20}-\d{1,20}$/, "a stream id like 1700000000000-0");
export const AuditType = z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' and '-'");
export const PairingCode = z.string().regex(/^[A-HJ-NP-Z2-9]{8}$/, "8 characters of A-Z (no I, O) and 2-9");

const DAY_MS = 86_400_000;
const Millis = (max: number) => z.int().min(1).max(max);
const TimestampMs = z.int().min(0);
const Version = z.int().min(1);
const JsonObject = z.record(z.string(), z.json());

export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(
    (zone) => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    },
    { message: "an IANA time zone such as Europe/Berlin" },
  );

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

export const ERROR_CODES = [
  "invalid_json",
  "invalid_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "cap_exceeded",
  "version_mismatch",
  "payload_too_large",
  "unsupported_media_type",
  "too_many_pending",
  "unavailable",
  "internal",
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorIssue = z.object({ path: z.string(), message: z.string() });
export type ErrorIssue = z.infer<typeof ErrorIssue>;

export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    issues: z.array(ErrorIssue).optional(),
    /** On `version_mismatch`: the version the resource has now. */
    currentVersion: z.int().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---------------------------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------------------------

export const MessageRole = z.enum(["system", "user", "assistant", "tool"]);
export type MessageRole = z.infer<typeof MessageRole>;

export const ToolCall = z.strictObject({
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(200),
  /** The model's arguments as it sent them (a JSON string, possibly invalid). */
  arguments: z.string().max(1_000_000),
});
export type ToolCall = z.infer<typeof ToolCall>;

const messageFields = {
  /** Unique within the session; appending an id twice stores it once. */
  id: MessageId,
  role: MessageRole,
  content: z.string().max(262_144),
  name: z.string().min(1).max(200).optional(),
  toolCallId: z.string().min(1).max(200).optional(),
  toolCalls: z.array(ToolCall).max(128).optional(),
  meta: JsonObject.optional(),
};

export const SessionMessageInput = z.strictObject({
  ...messageFields,
  /** Token count when the caller knows it; otherwise estimated as ceil(characters / 4). */
  tokens: z.int().min(0).max(10_000_000).optional(),
  /** When it was said (ms since epoch); defaults to the time the service stored it. */
  at: TimestampMs.optional(),
});
export type SessionMessageInput = z.infer<typeof SessionMessageInput>;

export const SessionMessage = z.object({ ...messageFields, tokens: z.int().min(0), at: TimestampMs });
export type SessionMessage = z.infer<typeof SessionMessage>;

/** When a session starts over: after `idleMs` without an append, and/or daily at `hour` in `timeZone`. */
export const ResetPolicy = z.strictObject({
  idleMs: Millis(365 * DAY_MS).optional(),
  daily: z.strictObject({ hour: z.int().min(0).max(23), timeZone: TimeZone }).optional(),
});
export type ResetPolicy = z.infer<typeof ResetPolicy>;

/** The newest messages: at most `last`, and (when given) as many as fit `maxTokens` together with the summary. */
export const WindowSpec = z.strictObject({
  last: z.int().min(0).max(10_000).optional(),
  maxTokens: z.int().min(0).max(100_000_000).optional(),
});
export type WindowSpec = z.infer<typeof WindowSpec>;

export const SessionSummary = z.object({
  content: z.string(),
  tokens: z.int().min(0),
  /** The last message the summary covers. */
  throughId: MessageId,
  at: TimestampMs,
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const SessionWindow = z.object({
  sessionKey: SessionKey,
  /** Increases with every reset; 0 before the first. */
  generation: z.int().min(0),
  /** The reset policy says this session is over: the next append starts a new generation. */
  expired: z.boolean(),
  summary: SessionSummary.nullable(),
  messages: z.array(SessionMessage),
  /** Messages stored after the summary (the window may hold fewer). */
  total: z.int().min(0),
  /** Older messages exist that the window left out. */
  truncated: z.boolean(),
});
export type SessionWindow = z.infer<typeof SessionWindow>;

export const AppendMessagesRequest = z.strictObject({
  messages: z.array(SessionMessageInput).min(1).max(500),
  reset: ResetPolicy.optional(),
  /** Answer with the window after the append (saves a round trip). */
  window: WindowSpec.optional(),
});
export type AppendMessagesRequest = z.input<typeof AppendMessagesRequest>;

export const AppendMessagesResponse = z.object({
  generation: z.int().min(0),
  /** This append started a new generation (the reset policy said the old one was over). */
  reset: z.boolean(),
  appended: z.int().min(0),
  /** Ids that were already stored (idempotent retries). */
  duplicates: z.array(MessageId),
  total: z.int().min(0),
  window: SessionWindow.optional(),
});
export type AppendMessagesResponse = z.infer<typeof AppendMessagesResponse>;

/** Query of `GET .../sessions/:key/messages`. Defaults to the last 50 messages. */
export const ReadSessionQuery = z.strictObject({
  last: z.coerce.number().pipe(z.int().min(0).max(10_000)).optional(),
  maxTokens: z.coerce.number().pipe(z.int().min(0).max(100_000_000)).optional(),
  idleMs: z.coerce
    .number()
    .pipe(Millis(365 * DAY_MS))
    .optional(),
  dailyHour: z.coerce.number().pipe(z.int().min(0).max(23)).optional(),
  timeZone: TimeZone.optional(),
});
export type ReadSessionQuery = z.infer<typeof ReadSessionQuery>;

export const TrimSessionRequest = z.strictObject({
  keepLast: z.int().min(0).max(1_000_000),
  expectedGeneration: z.int().min(0).optional(),
});
export type TrimSessionRequest = z.infer<typeof TrimSessionRequest>;

export const TrimSessionResponse = z.object({
  generation: z.int().min(0),
  removed: z.int().min(0),
  total: z.int().min(0),
});
export type TrimSessionResponse = z.infer<typeof TrimSessionResponse>;

export const CompactSessionRequest = z.strictObject({
  /** Replace every message up to and including this one by the summary. */
  throughId: MessageId,
  summary: z.strictObject({ content: z.string().max(262_144), tokens: z.int().min(0).max(10_000_000).optional() }),
  expectedGeneration: z.int().min(0).optional(),
});
export type CompactSessionRequest = z.infer<typeof CompactSessionRequest>;

export const CompactSessionResponse = z.object({
  generation: z.int().min(0),
  removed: z.int().min(0),
  total: z.int().min(0),
  /** `throughId` had been compacted already (a retried or concurrent compaction): nothing changed. */
  alreadyCompacted: z.boolean(),
  summary: SessionSummary.nullable(),
});
export type CompactSessionResponse = z.infer<typeof CompactSessionResponse>;

export const ResetSessionRequest = z.strictObject({
  /** Reset only if the session is still in this generation (a retried `/new` must not wipe the next one). */
  expectedGeneration: z.int().min(0).optional(),
});
export type ResetSessionRequest = z.infer<typeof ResetSessionRequest>;

export const ResetSessionResponse = z.object({ generation: z.int().min(0) });
export type ResetSessionResponse = z.infer<typeof ResetSessionResponse>;

/** How messages are grouped into sessions (DESIGN.md §5). */
export const SessionScopeRequest = z.discriminatedUnion("scope", [
  z.strictObject({ scope: z.literal("main") }),
  /** One session per person: identity links join the person's identities across channels. */
  z.strictObject({ scope: z.literal("sender"), channel: ChannelName, sender: SenderId }),
  z.strictObject({ scope: z.literal("channel-sender"), channel: ChannelName, sender: SenderId }),
  z.strictObject({
    scope: z.literal("thread"),
    channel: ChannelName,
    conversation: visible(256),
    thread: visible(256).optional(),
  }),
  z.strictObject({ scope: z.literal("schedule"), schedule: ScheduleName }),
]);
export type SessionScopeRequest = z.infer<typeof SessionScopeRequest>;

export const ResolveSessionResponse = z.object({
  sessionKey: SessionKey,
  /** The person the sender resolved to (scope `sender`). */
  person: UserId.optional(),
});
export type ResolveSessionResponse = z.infer<typeof ResolveSessionResponse>;

export const ListQuery = z.strictObject({
  limit: z.coerce.number().pipe(z.int().min(1).max(200)).optional(),
  cursor: z.string().min(1).max(1024).optional(),
});

export const SessionInfo = z.object({ sessionKey: SessionKey, activeAt: TimestampMs });
export const ListSessionsResponse = z.object({ sessions: z.array(SessionInfo), nextCursor: z.string().nullable() });
export type ListSessionsResponse = z.infer<typeof ListSessionsResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Identities and pairing
// ---------------------------------------------------------------------------------------------------------------

export const ChannelIdentity = z.strictObject({ channel: ChannelName, sender: SenderId });
export type ChannelIdentity = z.infer<typeof ChannelIdentity>;

export const LinkIdentitiesRequest = z.strictObject({ identities: z.array(ChannelIdentity).min(2).max(20) });
export type LinkIdentitiesRequest = z.infer<typeof LinkIdentitiesRequest>;

/** One person and every identity joined to it. An unlinked identity is its own person, `<channel>:<sender>`. */
export const Person = z.object({ person: UserId, identities: z.array(ChannelIdentity) });
export type Person = z.infer<typeof Person>;

export const PairingRequestBody = z.strictObject({
  channel: ChannelName,
  sender: SenderId,
  displayName: z.string().max(200).optional(),
  ttlMs: Millis(DAY_MS).optional(),
});
export type PairingRequestBody = z.infer<typeof PairingRequestBody>;

export const PairingRecord = z.object({
  code: PairingCode,
  channel: ChannelName,
  sender: SenderId,
  displayName: z.string().optional(),
  status: z.enum(["pending", "approved", "denied"]),
  createdAt: TimestampMs,
  expiresAt: TimestampMs,
  decidedBy: z.string().optional(),
  decidedAt: TimestampMs.optional(),
});
export type PairingRecord = z.infer<typeof PairingRecord>;

export const PairingResponse = z.discriminatedUnion("status", [
  z.object({ status: z.literal("approved") }),
  z.object({
    status: z.literal("pending"),
    code: PairingCode,
    expiresAt: TimestampMs,
    /** False when the sender already had a pending request (same code). */
    created: z.boolean(),
  }),
]);
export type PairingResponse = z.infer<typeof PairingResponse>;

export const ListPairingResponse = z.object({ pending: z.array(PairingRecord) });
export type ListPairingResponse = z.infer<typeof ListPairingResponse>;

export const DecidePairingRequest = z.strictObject({ decidedBy: z.string().min(1).max(200).optional() });
export type DecidePairingRequest = z.infer<typeof DecidePairingRequest>;

export const ApprovedResponse = z.object({ approved: z.boolean() });
export type ApprovedResponse = z.infer<typeof ApprovedResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------------------------

export const NoteTag = z
  .string()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}_:.-]{0,63}$/u, "letters, digits, '_', ':', '.' and '-'");
export const NOTE_MAX_CHARS = 8_000;

export const NoteOwner = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("instance") }),
  z.object({ kind: z.literal("user"), user: UserId }),
]);
export type NoteOwner = z.infer<typeof NoteOwner>;

export const NoteProvenanceInput = z.strictObject({
  /** The run that wrote the note. */
  runId: RunId.optional(),
  /** Where the fact came from (a tool, a message id, "user said"). */
  source: z.string().min(1).max(200).optional(),
});

export const Note = z.object({
  id: NoteId,
  owner: NoteOwner,
  text: z.string(),
  tags: z.array(NoteTag),
  /** `writtenBy` is set by the service from the caller's token; the rest comes from the caller. */
  provenance: z.object({ runId: RunId.optional(), source: z.string().optional(), writtenBy: z.string() }),
  createdAt: TimestampMs,
  updatedAt: TimestampMs,
  version: Version,
});
export type Note = z.infer<typeof Note>;

export const AddNoteRequest = z.strictObject({
  /** Choose the id to make a retried add harmless; a second add with the same id answers the stored note. */
  id: NoteId.optional(),
  /** Keep the note for this user (a person id) instead of the whole instance. */
  user: UserId.optional(),
  text: z.string().min(1).max(NOTE_MAX_CHARS),
  tags: z.array(NoteTag).max(20).optional(),
  provenance: NoteProvenanceInput.optional(),
});
export type AddNoteRequest = z.infer<typeof AddNoteRequest>;

export const AddNoteResponse = z.object({ note: Note, created: z.boolean() });
export type AddNoteResponse = z.infer<typeof AddNoteResponse>;

export const UpdateNoteRequest = z
  .strictObject({
    text: z.string().min(1).max(NOTE_MAX_CHARS).optional(),
    tags: z.array(NoteTag).max(20).optional(),
    provenance: NoteProvenanceInput.optional(),
    expectedVersion: Version.optional(),
  })
  .refine((body) => body.text !== undefined || body.tags !== undefined, {
    message: "give text or tags",
    path: ["text"],
  });
export type UpdateNoteRequest = z.infer<typeof UpdateNoteRequest>;

export const NoteResponse = z.object({ note: Note });

export const ListNotesQuery = ListQuery.extend({ user: UserId.optional() });
export type ListNotesQuery = z.infer<typeof ListNotesQuery>;
export const ListNotesResponse = z.object({ notes: z.array(Note), nextCursor: z.string().nullable() });
export type ListNotesResponse = z.infer<typeof ListNotesResponse>;

export const SearchNotesRequest = z.strictObject({
  query: z.string().min(1).max(1000),
  /** Search this user's notes (and, unless `includeInstance` is false, the instance's). */
  user: UserId.optional(),
  includeInstance: z.boolean().optional(),
  limit: z.int().min(1).max(50).optional(),
  /** Ranking strategy. Only keyword ranking (BM25) exists; a vector index would add a mode here. */
  mode: z.enum(["keyword"]).optional(),
});
export type SearchNotesRequest = z.infer<typeof SearchNotesRequest>;

export const SearchNotesResponse = z.object({
  results: z.array(z.object({ note: Note, score: z.number() })),
});
export type SearchNotesResponse = z.infer<typeof SearchNotesResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------------------------

export const RUN_STATUSES = ["queued", "running", "waiting", "completed", "failed", "cancelled"] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;
/** Finished runs expire after their retention; the others live until they finish. */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];

const RunState = JsonObject;

export const Run = z.object({
  id: RunId,
  instance: InstanceName,
  status: RunStatus,
  /** Starts at 1; every update increments it. */
  version: Version,
  state: RunState,
  createdAt: TimestampMs,
  updatedAt: TimestampMs,
  /** Set while the run is finished: when it will be deleted. */
  expiresAt: TimestampMs.nullable(),
});
export type Run = z.infer<typeof Run>;

export const CreateRunRequest = z.strictObject({
  /** Choose the id (e.g. derived from the triggering event) to make "load or create" one idempotent call. */
  id: RunId.optional(),
  status: RunStatus.optional(),
  state: RunState.optional(),
  retentionMs: Millis(365 * DAY_MS).optional(),
});
export type CreateRunRequest = z.infer<typeof CreateRunRequest>;

export const CreateRunResponse = z.object({ run: Run, created: z.boolean() });
export type CreateRunResponse = z.infer<typeof CreateRunResponse>;

export const UpdateRunRequest = z.strictObject({
  /** Compare-and-set: applied only if the run is at this version, else 412 with `currentVersion`. */
  expectedVersion: Version,
  status: RunStatus.optional(),
  /** Replaces the state wholesale. */
  state: RunState.optional(),
  /** How long the run is kept once finished (default from the service's configuration). */
  retentionMs: Millis(365 * DAY_MS).optional(),
  /** Makes a retried update harmless: the same updateId right after it applied answers 200 with that result. */
  updateId: IdempotencyKey.optional(),
});
export type UpdateRunRequest = z.infer<typeof UpdateRunRequest>;

export const RunResponse = z.object({ run: Run });
export type RunResponse = z.infer<typeof RunResponse>;

export const ListRunsQuery = ListQuery.extend({ status: RunStatus.optional() });
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;
export const ListRunsResponse = z.object({ runs: z.array(Run), nextCursor: z.string().nullable() });
export type ListRunsResponse = z.infer<typeof ListRunsResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Dedup and key/values
// ---------------------------------------------------------------------------------------------------------------

export const DedupRequest = z.strictObject({
  key: DedupKey,
  ttlMs: Millis(30 * DAY_MS),
  /**
   * Who claims the key. A retried claim (same key, same claim) answers firstSeen again instead of "duplicate", so a
   * timeout after the key was stored cannot make the caller drop its own event.
   */
  claim: IdempotencyKey.optional(),
  value: z.string().max(4096).optional(),
});
export type DedupRequest = z.infer<typeof DedupRequest>;

export const DedupResponse = z.object({
  firstSeen: z.boolean(),
  /** The stored value (the first claimant's). */
  value: z.string().nullable(),
});
export type DedupResponse = z.infer<typeof DedupResponse>;

export const PutValueRequest = z.strictObject({ value: z.string().max(65_536), ttlMs: Millis(30 * DAY_MS) });
export type PutValueRequest = z.infer<typeof PutValueRequest>;

/** `value` is null for a key claimed without a value. */
export const ValueResponse = z.object({ value: z.string().nullable(), expiresAt: TimestampMs.nullable() });
export type ValueResponse = z.infer<typeof ValueResponse>;

export const DeleteValueResponse = z.object({ deleted: z.boolean() });
export type DeleteValueResponse = z.infer<typeof DeleteValueResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------------------------

export const ConsumeBudgetRequest = z
  .strictObject({
    /** 0 reads the budget without consuming. All or nothing: never part of an amount. */
    amount: z.int().min(0).max(1_000_000_000_000),
    limit: z.int().min(0).max(1_000_000_000_000),
    /** Sliding window: the sum consumed in any `windowMs` never exceeds `limit`. Without it the budget is a total. */
    windowMs: Millis(366 * DAY_MS).optional(),
    /** Total budgets only: forget the total after this long (e.g. a per-run budget). */
    ttlMs: Millis(366 * DAY_MS).optional(),
    /** Makes a retried consume harmless: the same requestId answers the first decision without consuming again. */
    requestId: IdempotencyKey.optional(),
  })
  .refine((body) => !(body.windowMs !== undefined && body.ttlMs !== undefined), {
    message: "give windowMs or ttlMs, not both",
    path: ["ttlMs"],
  });
export type ConsumeBudgetRequest = z.infer<typeof ConsumeBudgetRequest>;

export const ConsumeBudgetResponse = z.object({
  allowed: z.boolean(),
  /** Consumed so far in the window (including this amount when allowed). */
  used: z.int().min(0),
  remaining: z.int().min(0),
  limit: z.int().min(0),
  /** When some of the consumed amount is given back (window) or the total is forgotten (ttl). */
  resetAt: TimestampMs.nullable(),
});
export type ConsumeBudgetResponse = z.infer<typeof ConsumeBudgetResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------------------------------------

export const AcquireLockRequest = z.strictObject({ owner: LockOwner, ttlMs: Millis(DAY_MS) });
export type AcquireLockRequest = z.infer<typeof AcquireLockRequest>;

export const AcquireLockResponse = z.discriminatedUnion("acquired", [
  /** `token` is the fencing token: it increases with every acquisition of this lock, forever. */
  z.object({ acquired: z.literal(true), token: z.int().min(1), expiresAt: TimestampMs }),
  z.object({ acquired: z.literal(false), expiresAt: TimestampMs }),
]);
export type AcquireLockResponse = z.infer<typeof AcquireLockResponse>;

export const RenewLockRequest = z.strictObject({ owner: LockOwner, token: z.int().min(1), ttlMs: Millis(DAY_MS) });
export type RenewLockRequest = z.infer<typeof RenewLockRequest>;

export const RenewLockResponse = z.object({ renewed: z.boolean(), expiresAt: TimestampMs.nullable() });
export type RenewLockResponse = z.infer<typeof RenewLockResponse>;

export const ReleaseLockRequest = z.strictObject({ owner: LockOwner, token: z.int().min(1) });
export type ReleaseLockRequest = z.infer<typeof ReleaseLockRequest>;

export const ReleaseLockResponse = z.object({ released: z.boolean() });
export type ReleaseLockResponse = z.infer<typeof ReleaseLockResponse>;

export const LockStateResponse = z.discriminatedUnion("held", [
  z.object({ held: z.literal(true), owner: LockOwner, token: z.int().min(1), expiresAt: TimestampMs }),
  z.object({ held: z.literal(false) }),
]);
export type LockStateResponse = z.infer<typeof LockStateResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------------------------

export const AuditEntryInput = z.strictObject({
  type: AuditType,
  runId: RunId.optional(),
  data: JsonObject.optional(),
});
export type AuditEntryInput = z.infer<typeof AuditEntryInput>;

export const AppendAuditRequest = z.strictObject({
  entries: z.array(AuditEntryInput).min(1).max(100),
  /** Makes a retried append harmless: the same batchKey within a day answers the first append's ids. */
  batchKey: IdempotencyKey.optional(),
});
export type AppendAuditRequest = z.infer<typeof AppendAuditRequest>;

export const AppendAuditResponse = z.object({ ids: z.array(StreamId) });
export type AppendAuditResponse = z.infer<typeof AppendAuditResponse>;

export const AuditEntry = z.object({
  /** Stream id, increasing; usable as an SSE event id (`after=<id>` resumes). */
  id: StreamId,
  at: TimestampMs,
  type: AuditType,
  runId: RunId.optional(),
  /** Who wrote it, from the caller's token (e.g. `instance:assistant`, `gateway`). */
  by: z.string(),
  data: JsonObject,
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const ReadAuditQuery = z.strictObject({
  /** Exclusive lower bound. */
  after: StreamId.optional(),
  /** Exclusive upper bound. */
  before: StreamId.optional(),
  limit: z.coerce.number().pipe(z.int().min(1).max(1000)).optional(),
  order: z.enum(["asc", "desc"]).optional(),
});
export type ReadAuditQuery = z.infer<typeof ReadAuditQuery>;

export const ReadAuditResponse = z.object({
  entries: z.array(AuditEntry),
  /** Pass as `after` (asc) or `before` (desc) to read on; null when the range is exhausted. */
  next: StreamId.nullable(),
});
export type ReadAuditResponse = z.infer<typeof ReadAuditResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------------------------------

/** A dead-letter queue: one per deadletter function (its hash tag keeps all of a queue's keys in one slot). */
export const DeadLetterQueueName = dnsLabel;
/**
 * `dl_` + 32 base64url characters of SHA-256 over the event's source, id and the failed destination
 * (`knativeerrordest`): a redelivered dead letter maps to the entry it already has.
 */
export const DeadLetterId = z
  .string()
  .regex(/^dl_[A-Za-z0-9_-]{32}$/, "a dead-letter id like dl_<32 base64url characters>");
/** CloudEvents attribute names: lowercase letters and digits. */
export const EventAttributeName = z.string().regex(/^[a-z0-9]+$/, "lowercase letters and digits");
const Base64 = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "standard base64 with padding");

/**
 * Every attribute of the event exactly as delivered (knativeerror* extensions included); data travels beside it.
 * Lengths are bounded by the request's size limit only: whatever the broker accepted must be storable.
 */
export const EventAttributes = z
  .record(EventAttributeName, z.string())
  .refine((attributes) => ["id", "source", "type", "specversion"].every((name) => (attributes[name] ?? "") !== ""), {
    message: "id, source, type and specversion are required and non-empty",
  });
export type EventAttributes = z.infer<typeof EventAttributes>;

/** Why the delivery failed, from Knative's knativeerror* extensions. */
export const DeadLetterError = z.strictObject({
  /** `knativeerrordest`: the subscriber (or reply destination) that failed; null when absent. */
  destination: z.string().min(1).nullable(),
  /** `knativeerrorcode`: the last HTTP status; null when absent or not an integer. */
  code: z.int().min(0).max(999).nullable(),
  /** `knativeerrordata` as received: the response body in base64, cut at 1024 characters by Knative. */
  data: z.string().nullable(),
  /** `data` decoded, when it is UTF-8 text. */
  text: z.string().nullable(),
});
export type DeadLetterError = z.infer<typeof DeadLetterError>;

export const StoreDeadLetterRequest = z.strictObject({
  attributes: EventAttributes,
  /** The event's data bytes; absent when the event has none (an empty string is empty data). */
  dataBase64: Base64.optional(),
  error: DeadLetterError,
  /** Retention of the queue: the oldest entries beyond this many are dropped. */
  maxEntries: z.int().min(1).max(1_000_000),
  /** Retention of the queue: an entry is dropped this long after it last arrived. */
  maxAgeMs: Millis(366 * DAY_MS),
  /** Makes a retried store harmless: the same requestId right after it applied does not count a second arrival. */
  requestId: IdempotencyKey.optional(),
});
export type StoreDeadLetterRequest = z.infer<typeof StoreDeadLetterRequest>;

/** A dead letter without its data (what listings answer). */
export const DeadLetterSummary = z.object({
  id: DeadLetterId,
  queue: DeadLetterQueueName,
  attributes: EventAttributes,
  /** Length of the data in bytes; null when the event has no data. */
  dataBytes: z.int().min(0).nullable(),
  /** The error of the latest arrival. */
  error: DeadLetterError,
  /** First arrival (the service's clock); listings are ordered by it, newest first. */
  receivedAt: TimestampMs,
  lastReceivedAt: TimestampMs,
  /** Arrivals of this dead letter (a redelivery or a failure after a replay counts one more). */
  receivedCount: z.int().min(1),
  replayedAt: TimestampMs.nullable(),
  replayCount: z.int().min(0),
  expiresAt: TimestampMs,
});
export type DeadLetterSummary = z.infer<typeof DeadLetterSummary>;

export const DeadLetter = DeadLetterSummary.extend({ dataBase64: Base64.nullable() });
export type DeadLetter = z.infer<typeof DeadLetter>;

export const StoreDeadLetterResponse = z.object({ deadLetter: DeadLetterSummary, created: z.boolean() });
export type StoreDeadLetterResponse = z.infer<typeof StoreDeadLetterResponse>;

export const DeadLetterResponse = z.object({ deadLetter: DeadLetter });
export type DeadLetterResponse = z.infer<typeof DeadLetterResponse>;

export const ListDeadLettersQuery = ListQuery.extend({
  /** Only events whose `knclawinstance` extension is this. */
  instance: z.string().min(1).max(256).optional(),
  /** Only events of this `type`. */
  type: z.string().min(1).max(1024).optional(),
  /** Only dead letters whose failed destination (`knativeerrordest`) is this. */
  destination: z.string().min(1).max(8192).optional(),
});
export type ListDeadLettersQuery = z.infer<typeof ListDeadLettersQuery>;

/**
 * Newest first. A filtered page may hold fewer than `limit` entries while `nextCursor` is not null: one request
 * examines a bounded number of entries, and the cursor continues where it stopped.
 */
export const ListDeadLettersResponse = z.object({
  deadLetters: z.array(DeadLetterSummary),
  nextCursor: z.string().nullable(),
});
export type ListDeadLettersResponse = z.infer<typeof ListDeadLettersResponse>;

export const RecordReplayRequest = z.strictObject({
  /** Makes a retried record harmless: the same requestId right after it applied is not counted again. */
  requestId: IdempotencyKey.optional(),
});
export type RecordReplayRequest = z.infer<typeof RecordReplayRequest>;

export const DeadLetterSummaryResponse = z.object({ deadLetter: DeadLetterSummary });
export type DeadLetterSummaryResponse = z.infer<typeof DeadLetterSummaryResponse>;

export const DeleteDeadLetterResponse = z.object({ deleted: z.boolean() });
export type DeleteDeadLetterResponse = z.infer<typeof DeleteDeadLetterResponse>;
