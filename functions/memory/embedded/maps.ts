import type { Note, PairingRecord, Run } from "../../../../clients/memory/schemas.ts";
import type { TermVector } from "../../domain/text-index.ts";
import type { AuditAppend, StoredMessage } from "../backend.ts";

/**
 * The embedded store's data, kept in plain maps per instance. Every operation runs synchronously between two awaits,
 * which is what makes it atomic; expiry is checked on access (and swept periodically to free memory).
 */

export interface SessionState {
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

export interface Expiring<T> {
  value: T;
  /** ms since epoch; Infinity when it never expires. */
  expiresAt: number;
}

export interface StoredNote {
  note: Note;
  vector: TermVector;
  owner: string;
}

export interface StoredRun {
  run: Run;
  lastUpdateId?: string;
}

export interface BudgetLog {
  entries: Array<{ at: number; amount: number }>;
  sum: number;
}

export interface LockState {
  owner: string;
  token: number;
}

export interface StoredAuditEntry {
  id: string;
  ms: number;
  seq: number;
  entry: AuditAppend["entries"][number];
}

export interface InstanceState {
  sessions: Map<string, SessionState>;
  idmap: Map<string, string>;
  persons: Map<string, string[]>;
  pairing: Map<string, PairingRecord>;
  pairingBySender: Map<string, string>;
  approved: Set<string>;
  notes: Map<string, StoredNote>;
  postings: Map<string, Map<string, number>>;
  notesLength: number;
  runs: Map<string, StoredRun>;
  values: Map<string, Expiring<string>>;
  windowBudgets: Map<string, Expiring<BudgetLog>>;
  totalBudgets: Map<string, Expiring<number>>;
  budgetDecisions: Map<string, Expiring<string>>;
  locks: Map<string, Expiring<LockState>>;
  fences: Map<string, number>;
  audit: StoredAuditEntry[];
  auditBatches: Map<string, Expiring<string[]>>;
}

export function newInstanceState(): InstanceState {
  return {
    sessions: new Map(),
    idmap: new Map(),
    persons: new Map(),
    pairing: new Map(),
    pairingBySender: new Map(),
    approved: new Set(),
    notes: new Map(),
    postings: new Map(),
    notesLength: 0,
    runs: new Map(),
    values: new Map(),
    windowBudgets: new Map(),
    totalBudgets: new Map(),
    budgetDecisions: new Map(),
    locks: new Map(),
    fences: new Map(),
    audit: [],
    auditBatches: new Map(),
  };
}

/** The live value under `key`, dropping it if it expired. */
export function live<T>(map: Map<string, Expiring<T>>, key: string, now: number): Expiring<T> | undefined {
  const entry = map.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= now) {
    map.delete(key);
    return undefined;
  }
  return entry;
}

export function sweepExpired<T>(map: Map<string, Expiring<T>>, now: number): void {
  for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key);
}
