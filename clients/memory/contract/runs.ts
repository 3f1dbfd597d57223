import { z } from "zod";
import {
  DAY_MS,
  IdempotencyKey,
  InstanceName,
  JsonObject,
  ListQuery,
  Millis,
  RunId,
  TimestampMs,
  Version,
} from "./fields.ts";

/** Runs: the durable state of an agent run, updated by compare-and-set. */

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
