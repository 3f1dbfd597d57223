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

const SWEEP_INTERVAL_MS = 30_000;

/**
 * The in-process stores of `knclaw dev` without Redis: the same semantics as on Redis (the contract suite runs
 * against both), nothing persisted. Expired entries are invisible at once and freed by a periodic sweep.
 */
export function openEmbeddedStores(clock: () => number, limits: { maxFinishedRuns: number }): MemoryStores {
  const people = new EmbeddedPeopleStore();
  const runs = new EmbeddedRunStore({ maxFinishedRuns: limits.maxFinishedRuns });
  const blobs = new EmbeddedBlobStore(runs);
  const coordination = new EmbeddedCoordinationStore();
  const audit = new EmbeddedAuditStore();
  const deadLetters = new EmbeddedDeadLetterStore();
  const swept = [people, runs, coordination, audit, deadLetters];
  const sweeper = setInterval(() => {
    const now = clock();
    for (const store of swept) store.sweep(now);
    void blobs.sweep(now);
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  return {
    kind: "embedded",
    sessions: new EmbeddedSessionStore(),
    people,
    notes: new EmbeddedNoteStore(),
    runs,
    blobs,
    coordination,
    audit,
    deadLetters,
    timers: new EmbeddedTimerStore(),
    ping: async () => {},
    close: async () => clearInterval(sweeper),
  };
}
