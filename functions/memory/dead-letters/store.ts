import type { DeadLetter, DeadLetterError, DeadLetterSummary } from "../../../clients/memory/contract/dead-letters.ts";
import type { CursorPage } from "../paging.ts";

/**
 * Dead-letter queues (one per deadletter function): entries by id, newest first, filterable, with retention by count
 * and age. Both implementations page through pager.ts so that they answer identical pages.
 */
export interface DeadLetterStore {
  /** Store-if-absent by id; an entry that exists counts one more arrival instead (unless it is the same request). */
  store(queue: string, input: DeadLetterWrite): Promise<StoreDeadLetterOutcome>;
  get(queue: string, id: string, now: number): Promise<DeadLetter | undefined>;
  list(queue: string, input: DeadLetterListing): Promise<{ deadLetters: DeadLetterSummary[]; next: string | null }>;
  recordReplay(queue: string, id: string, input: ReplayRecord): Promise<DeadLetterSummary | undefined>;
  delete(queue: string, id: string, now: number): Promise<boolean>;
}

export interface DeadLetterWrite {
  /** Derived from the event (ids.ts), so both implementations agree on it. */
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
