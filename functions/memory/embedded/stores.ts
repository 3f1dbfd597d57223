import type { Note, PairingRecord, Run } from "../../../../clients/memory/schemas.ts";
import type {
  AddNoteOutcome,
  AppendInput,
  AuditAppend,
  AuditRange,
  BudgetInput,
  ClaimInput,
  CompactInput,
  CreateRunOutcome,
  CursorPage,
  DeadLetterListing,
  DeadLetterWrite,
  LockInput,
  MemoryBackend,
  NoteMutation,
  NoteSearch,
  NoteWrite,
  OffsetPage,
  PairingDecision,
  PairingInput,
  ReadInput,
  ReplayRecord,
  ResetInput,
  RunListing,
  RunUpdate,
  Space,
  TrimInput,
} from "../backend.ts";
import { appendAudit, readAudit } from "./audit.ts";
import * as coordination from "./coordination.ts";
import * as deadLetters from "./dead-letters.ts";
import * as notes from "./notes.ts";
import * as people from "./people.ts";
import * as runs from "./runs.ts";
import * as sessions from "./sessions.ts";
import { type Expiring, type InstanceState, newInstanceState, sweepExpired } from "./state.ts";

const SWEEP_INTERVAL_MS = 30_000;

/**
 * The in-process store of `knclaw dev` without Redis: the same semantics as the Redis backend (the contract suite
 * runs against both), nothing persisted. Expired entries are invisible at once and freed by a periodic sweep.
 */
export class EmbeddedBackend implements MemoryBackend {
  readonly kind = "embedded";
  readonly #instances = new Map<string, InstanceState>();
  readonly #namespaces = new Map<string, Map<string, Expiring<string>>>();
  /** Run id -> instance, for lookups by run id alone. */
  readonly #runOwners = new Map<string, string>();
  readonly #deadLetterQueues = new Map<string, deadLetters.DeadLetterQueue>();
  readonly #clock: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  #instance(name: string): InstanceState {
    let state = this.#instances.get(name);
    if (!state) {
      state = newInstanceState();
      this.#instances.set(name, state);
    }
    return state;
  }

  #values(space: Space): Map<string, Expiring<string>> {
    if (space.kind === "instance") return this.#instance(space.name).values;
    let values = this.#namespaces.get(space.name);
    if (!values) {
      values = new Map();
      this.#namespaces.set(space.name, values);
    }
    return values;
  }

  #deadLetters(queue: string): deadLetters.DeadLetterQueue {
    let entries = this.#deadLetterQueues.get(queue);
    if (!entries) {
      entries = new Map();
      this.#deadLetterQueues.set(queue, entries);
    }
    return entries;
  }

  #sweep(): void {
    const now = this.#clock();
    for (const queue of this.#deadLetterQueues.values()) deadLetters.sweepDeadLetters(queue, now);
    for (const values of this.#namespaces.values()) sweepExpired(values, now);
    for (const [name, state] of this.#instances) {
      sweepExpired(state.values, now);
      sweepExpired(state.windowBudgets, now);
      sweepExpired(state.totalBudgets, now);
      sweepExpired(state.budgetDecisions, now);
      sweepExpired(state.locks, now);
      sweepExpired(state.auditBatches, now);
      for (const [id, stored] of state.runs) {
        if (stored.run.expiresAt !== null && stored.run.expiresAt <= now) {
          state.runs.delete(id);
          if (this.#runOwners.get(id) === name) this.#runOwners.delete(id);
        }
      }
      people.listPairing(state, now);
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  async appendMessages(instance: string, sessionKey: string, input: AppendInput) {
    return sessions.appendMessages(this.#instance(instance).sessions, sessionKey, input);
  }

  async readSession(instance: string, sessionKey: string, input: ReadInput) {
    return sessions.readSession(this.#instance(instance).sessions, sessionKey, input);
  }

  async trimSession(instance: string, sessionKey: string, input: TrimInput) {
    return sessions.trimSession(this.#instance(instance).sessions, sessionKey, input);
  }

  async compactSession(instance: string, sessionKey: string, input: CompactInput) {
    return sessions.compactSession(this.#instance(instance).sessions, sessionKey, input);
  }

  async resetSession(instance: string, sessionKey: string, input: ResetInput) {
    return sessions.resetSession(this.#instance(instance).sessions, sessionKey, input);
  }

  async listSessions(instance: string, page: OffsetPage) {
    return sessions.listSessions(this.#instance(instance).sessions, page);
  }

  async linkIdentities(instance: string, identities: string[]) {
    return people.linkIdentities(this.#instance(instance), identities);
  }

  async getPerson(instance: string, identity: string) {
    return people.getPerson(this.#instance(instance), identity);
  }

  async unlinkIdentity(instance: string, identity: string) {
    return people.unlinkIdentity(this.#instance(instance), identity);
  }

  async requestPairing(instance: string, input: PairingInput) {
    return people.requestPairing(this.#instance(instance), input);
  }

  async listPairing(instance: string, now: number): Promise<PairingRecord[]> {
    return people.listPairing(this.#instance(instance), now);
  }

  async decidePairing(instance: string, code: string, input: PairingDecision) {
    return people.decidePairing(this.#instance(instance), code, input);
  }

  async setApproved(instance: string, identity: string, approved: boolean): Promise<void> {
    const state = this.#instance(instance);
    if (approved) state.approved.add(identity);
    else state.approved.delete(identity);
  }

  async isApproved(instance: string, identity: string): Promise<boolean> {
    return this.#instance(instance).approved.has(identity);
  }

  async addNote(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome> {
    return notes.addNote(this.#instance(instance), input);
  }

  async getNote(instance: string, id: string): Promise<Note | undefined> {
    return this.#instance(instance).notes.get(id)?.note;
  }

  async updateNote(instance: string, id: string, mutate: NoteMutation) {
    return notes.updateNote(this.#instance(instance), id, mutate);
  }

  async deleteNote(instance: string, id: string) {
    return notes.deleteNote(this.#instance(instance), id);
  }

  async listNotes(instance: string, owner: string, page: CursorPage) {
    return notes.listNotes(this.#instance(instance), owner, page);
  }

  async searchNotes(instance: string, input: NoteSearch) {
    return notes.searchNotes(this.#instance(instance), input);
  }

  async createRun(instance: string, run: Run): Promise<CreateRunOutcome> {
    const owner = this.#runOwners.get(run.id);
    if (owner !== undefined && owner !== instance) {
      if (runs.getRun(this.#instance(owner), run.id, run.createdAt)) return { kind: "conflict" };
    }
    this.#runOwners.set(run.id, instance);
    return runs.createRun(this.#instance(instance), run);
  }

  async getRun(instance: string, id: string, now: number) {
    return runs.getRun(this.#instance(instance), id, now);
  }

  async findRun(id: string, now: number) {
    const owner = this.#runOwners.get(id);
    return owner === undefined ? undefined : runs.getRun(this.#instance(owner), id, now);
  }

  async updateRun(instance: string, id: string, input: RunUpdate) {
    return runs.updateRun(this.#instance(instance), id, input);
  }

  async listRuns(instance: string, input: RunListing) {
    return runs.listRuns(this.#instance(instance), input);
  }

  async claim(space: Space, input: ClaimInput) {
    return coordination.claim(this.#values(space), input);
  }

  async getValue(space: Space, key: string, now: number) {
    return coordination.getValue(this.#values(space), key, now);
  }

  async putValue(space: Space, key: string, value: string, ttlMs: number, now: number) {
    coordination.putValue(this.#values(space), key, value, ttlMs, now);
  }

  async deleteValue(space: Space, key: string, now: number) {
    return coordination.deleteValue(this.#values(space), key, now);
  }

  async consumeBudget(instance: string, name: string, input: BudgetInput) {
    return coordination.consumeBudget(this.#instance(instance), name, input);
  }

  async acquireLock(instance: string, name: string, input: LockInput) {
    return coordination.acquireLock(this.#instance(instance), name, input);
  }

  async renewLock(instance: string, name: string, input: LockInput & { token: number }) {
    return coordination.renewLock(this.#instance(instance), name, input);
  }

  async releaseLock(instance: string, name: string, input: { owner: string; token: number; now: number }) {
    return coordination.releaseLock(this.#instance(instance), name, input);
  }

  async getLock(instance: string, name: string, now: number) {
    return coordination.getLock(this.#instance(instance), name, now);
  }

  async appendAudit(instance: string, input: AuditAppend) {
    return appendAudit(this.#instance(instance), input);
  }

  async readAudit(instance: string, input: AuditRange) {
    return readAudit(this.#instance(instance), input);
  }

  async storeDeadLetter(queue: string, input: DeadLetterWrite) {
    return deadLetters.storeDeadLetter(queue, this.#deadLetters(queue), input);
  }

  async getDeadLetter(queue: string, id: string, now: number) {
    return deadLetters.getDeadLetter(this.#deadLetters(queue), id, now);
  }

  async listDeadLetters(queue: string, input: DeadLetterListing) {
    return deadLetters.listDeadLetters(this.#deadLetters(queue), input);
  }

  async recordDeadLetterReplay(queue: string, id: string, input: ReplayRecord) {
    return deadLetters.recordDeadLetterReplay(this.#deadLetters(queue), id, input);
  }

  async deleteDeadLetter(queue: string, id: string, now: number) {
    return deadLetters.deleteDeadLetter(this.#deadLetters(queue), id, now);
  }
}
