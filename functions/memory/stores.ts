import type { AuditStore } from "./audit/store.ts";
import type { BlobStore } from "./blobs/store.ts";
import type { CoordinationStore } from "./coordination/store.ts";
import type { DeadLetterStore } from "./dead-letters/store.ts";
import type { NoteStore } from "./notes/store.ts";
import type { PeopleStore } from "./people/store.ts";
import type { RunStore } from "./runs/store.ts";
import type { SessionStore } from "./sessions/store.ts";
import type { TimerStore } from "./timers/store.ts";

/**
 * The memory service's stores, one per area, all on the same backend: Redis (redis/stores.ts; Lua scripts wherever
 * a partial write would be possible) or the embedded in-process store of `knclaw dev` (embedded/stores.ts), with
 * the same semantics. Everything an operation must decide atomically happens inside one call; callers pass the
 * current time (`now`, ms) so that both backends decide with the same clock.
 *
 * Infrastructure failures surface as StoreUnavailableError (the API answers 503); expected outcomes (not found,
 * version mismatch, caps) are results, never exceptions.
 */
export interface MemoryStores {
  readonly kind: "redis" | "embedded";
  readonly sessions: SessionStore;
  readonly people: PeopleStore;
  readonly notes: NoteStore;
  readonly runs: RunStore;
  readonly blobs: BlobStore;
  readonly coordination: CoordinationStore;
  readonly audit: AuditStore;
  readonly deadLetters: DeadLetterStore;
  readonly timers: TimerStore;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store cannot be reached or did not answer in time; the request may or may not have been applied. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}
