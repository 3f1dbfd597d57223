import { EmbeddedAuditStore } from "../audit/embedded.ts";
import { EmbeddedBlobStore } from "../blobs/embedded.ts";
import { EmbeddedCoordinationStore } from "../coordination/embedded.ts";
import { EmbeddedDeadLetterStore } from "../dead-letters/embedded.ts";
import { EmbeddedNoteStore } from "../notes/embedded.ts";
import { EmbeddedPeopleStore } from "../people/embedded.ts";
import { EmbeddedRunStore } from "../runs/embedded.ts";
import { EmbeddedSessionStore } from "../sessions/embedded.ts";
import type { MemoryStores } from "../stores.ts";
import { EmbeddedTimerStore } from "../timers/embedded.ts";
import { openDatabase } from "./database.ts";

const SWEEP_INTERVAL_MS = 30_000;

export interface EmbeddedStoresOptions {
  /** The SQLite file the store keeps (database.ts); undefined: a database in memory, gone with the process. */
  path?: string;
  maxFinishedRuns: number;
}

/**
 * The stores of the memory service without Redis, on one SQLite database (database.ts says why and how durable): the
 * same semantics as on Redis (the contract suite runs against both, and against a file). Expired rows are invisible
 * at once and deleted by a periodic sweep.
 */
export function openEmbeddedStores(clock: () => number, options: EmbeddedStoresOptions): MemoryStores {
  const db = openDatabase(options.path);
  const runs = new EmbeddedRunStore(db, { maxFinishedRuns: options.maxFinishedRuns });
  const blobs = new EmbeddedBlobStore(db);
  const people = new EmbeddedPeopleStore(db);
  const coordination = new EmbeddedCoordinationStore(db);
  const audit = new EmbeddedAuditStore(db);
  const deadLetters = new EmbeddedDeadLetterStore(db);
  const swept = [runs, blobs, people, coordination, audit, deadLetters];
  const sweeper = setInterval(() => {
    const now = clock();
    for (const store of swept) {
      try {
        store.sweep(now);
      } catch {
        // A store that cannot write now (disk full, busy) sweeps at the next tick; expired rows stay invisible.
      }
    }
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  return {
    kind: "embedded",
    sessions: new EmbeddedSessionStore(db),
    people,
    notes: new EmbeddedNoteStore(db),
    runs,
    blobs,
    coordination,
    audit,
    deadLetters,
    timers: new EmbeddedTimerStore(db),
    ping: async () => db.read(() => db.get("SELECT 1")),
    close: async () => {
      clearInterval(sweeper);
      db.close();
    },
  };
}
