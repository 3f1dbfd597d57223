import { z } from "zod";
import { IdempotencyKey, JsonObject, RunId, TimestampMs } from "./fields.ts";

/** The audit log: an append-only stream of what happened in an instance. */

/** A Redis stream id (`<ms>-<seq>`); also the SSE event id of an audit entry. */
const StreamId = z.string().regex(/^\d{1,20}-\d{1,20}$/, "a stream id like 1700000000000-0");
const AuditType = z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' and '-'");

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
