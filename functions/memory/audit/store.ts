import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";

/** An instance's audit log: entries with increasing stream ids `<ms>-<seq>`, trimmed to a maximum length. */
export interface AuditStore {
  /** The new entries' ids; a batchKey seen within a day answers the first append's ids instead. */
  append(instance: string, input: AuditAppend): Promise<string[]>;
  read(instance: string, input: AuditRange): Promise<AuditEntry[]>;
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
