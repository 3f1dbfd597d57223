import { z } from "zod";
import { DAY_MS, dnsLabel, IdempotencyKey, ListQuery, Millis, TimestampMs } from "./fields.ts";

/** Dead letters: failed deliveries a deadletter function keeps, and their replays. */

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
const EventAttributeName = z.string().regex(/^[a-z0-9]+$/, "lowercase letters and digits");
const Base64 = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "standard base64 with padding");

/**
 * Every attribute of the event exactly as delivered (knativeerror* extensions included); data travels beside it.
 * Lengths are bounded by the request's size limit only: whatever the broker accepted must be storable.
 */
const EventAttributes = z
  .record(EventAttributeName, z.string())
  .refine((attributes) => ["id", "source", "type", "specversion"].every((name) => (attributes[name] ?? "") !== ""), {
    message: "id, source, type and specversion are required and non-empty",
  });

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
