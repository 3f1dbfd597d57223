import { z } from "zod";
import { DAY_MS, JsonObject, Millis, printable, TimestampMs } from "./fields.ts";

/** Sessions: the message history of a conversation, its window, compaction and resets. */

const MessageId = printable(200);
export const SessionKey = printable(512);

const TimeZone = z
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

const MessageRole = z.enum(["system", "user", "assistant", "tool"]);

const ToolCall = z.strictObject({
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(200),
  /** The model's arguments as it sent them (a JSON string, possibly invalid). */
  arguments: z.string().max(1_000_000),
});

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
  /** Older messages exist that the window left out (newer ones, for a read `from: "oldest"`). */
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

/**
 * Query of `GET .../sessions/:key/messages`. Defaults to the last 50 messages. `from: "oldest"` pages from the other
 * end: the oldest messages not yet compacted (what the next compaction folds into the summary), with the summary
 * always answered and not counted against `maxTokens`, and the oldest message answered even when it alone is over
 * `maxTokens` (so a compactor always gets on). `truncated` then says that newer messages exist beyond the page.
 */
export const ReadSessionQuery = z.strictObject({
  from: z.enum(["newest", "oldest"]).optional(),
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

const SessionInfo = z.object({ sessionKey: SessionKey, activeAt: TimestampMs });
export const ListSessionsResponse = z.object({ sessions: z.array(SessionInfo), nextCursor: z.string().nullable() });
export type ListSessionsResponse = z.infer<typeof ListSessionsResponse>;
