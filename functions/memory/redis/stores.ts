import type { Run } from "../../../../clients/memory/schemas.ts";
import type {
  AppendInput,
  AuditAppend,
  AuditRange,
  BudgetInput,
  ClaimInput,
  CompactInput,
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
import { StoreUnavailableError } from "../backend.ts";
import * as audit from "./audit.ts";
import { connectRedis, guard, type RedisClient, type RedisConnectionOptions } from "./connection.ts";
import type { RedisContext } from "./context.ts";
import * as coordination from "./coordination.ts";
import * as deadLetters from "./dead-letters.ts";
import { KeySchema } from "./keys.ts";
import * as notes from "./notes.ts";
import * as people from "./people.ts";
import * as runs from "./runs.ts";
import * as sessions from "./sessions.ts";

export interface RedisBackendOptions extends RedisConnectionOptions {
  keyPrefix: string;
}

/** The memory service's store on Redis (or Redis Cluster): the key schema is in keys.ts, the scripts in lua/. */
export class RedisBackend implements MemoryBackend {
  readonly kind = "redis";
  readonly #ctx: RedisContext;

  constructor(options: RedisBackendOptions) {
    this.#ctx = { client: connectRedis(options), keys: new KeySchema(options.keyPrefix) };
  }

  get client(): RedisClient {
    return this.#ctx.client;
  }

  /**
   * Resolves once connected (true) or after `timeoutMs` (false): lets a starting service answer its first requests
   * instead of failing them while the connection is still being set up.
   */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    const client = this.#ctx.client;
    if (client.status === "ready") return true;
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        client.off("ready", onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      client.on("ready", onReady);
    });
  }

  async ping(): Promise<void> {
    const answer = await guard(() => this.#ctx.client.ping());
    if (answer !== "PONG") throw new StoreUnavailableError(`unexpected PING answer ${answer}`);
  }

  async close(): Promise<void> {
    try {
      await this.#ctx.client.quit();
    } catch {
      this.#ctx.client.disconnect();
    }
  }

  appendMessages(instance: string, sessionKey: string, input: AppendInput) {
    return sessions.appendMessages(this.#ctx, instance, sessionKey, input);
  }

  readSession(instance: string, sessionKey: string, input: ReadInput) {
    return sessions.readSession(this.#ctx, instance, sessionKey, input);
  }

  trimSession(instance: string, sessionKey: string, input: TrimInput) {
    return sessions.trimSession(this.#ctx, instance, sessionKey, input);
  }

  compactSession(instance: string, sessionKey: string, input: CompactInput) {
    return sessions.compactSession(this.#ctx, instance, sessionKey, input);
  }

  resetSession(instance: string, sessionKey: string, input: ResetInput) {
    return sessions.resetSession(this.#ctx, instance, sessionKey, input);
  }

  listSessions(instance: string, page: OffsetPage) {
    return sessions.listSessions(this.#ctx, instance, page);
  }

  linkIdentities(instance: string, identities: string[]) {
    return people.linkIdentities(this.#ctx, instance, identities);
  }

  getPerson(instance: string, identity: string) {
    return people.getPerson(this.#ctx, instance, identity);
  }

  unlinkIdentity(instance: string, identity: string) {
    return people.unlinkIdentity(this.#ctx, instance, identity);
  }

  requestPairing(instance: string, input: PairingInput) {
    return people.requestPairing(this.#ctx, instance, input);
  }

  listPairing(instance: string, now: number) {
    return people.listPairing(this.#ctx, instance, now);
  }

  decidePairing(instance: string, code: string, input: PairingDecision) {
    return people.decidePairing(this.#ctx, instance, code, input);
  }

  setApproved(instance: string, identity: string, approved: boolean) {
    return people.setApproved(this.#ctx, instance, identity, approved);
  }

  isApproved(instance: string, identity: string) {
    return people.isApproved(this.#ctx, instance, identity);
  }

  addNote(instance: string, input: NoteWrite & { maxPerOwner: number }) {
    return notes.addNote(this.#ctx, instance, input);
  }

  getNote(instance: string, id: string) {
    return notes.getNote(this.#ctx, instance, id);
  }

  updateNote(instance: string, id: string, mutate: NoteMutation) {
    return notes.updateNote(this.#ctx, instance, id, mutate);
  }

  deleteNote(instance: string, id: string) {
    return notes.deleteNote(this.#ctx, instance, id);
  }

  listNotes(instance: string, owner: string, page: CursorPage) {
    return notes.listNotes(this.#ctx, instance, owner, page);
  }

  searchNotes(instance: string, input: NoteSearch) {
    return notes.searchNotes(this.#ctx, instance, input);
  }

  createRun(instance: string, run: Run) {
    return runs.createRun(this.#ctx, instance, run);
  }

  getRun(instance: string, id: string, now: number) {
    return runs.getRun(this.#ctx, instance, id, now);
  }

  findRun(id: string, now: number) {
    return runs.findRun(this.#ctx, id, now);
  }

  updateRun(instance: string, id: string, input: RunUpdate) {
    return runs.updateRun(this.#ctx, instance, id, input);
  }

  listRuns(instance: string, input: RunListing) {
    return runs.listRuns(this.#ctx, instance, input);
  }

  claim(space: Space, input: ClaimInput) {
    return coordination.claim(this.#ctx, space, input);
  }

  getValue(space: Space, key: string, now: number) {
    return coordination.getValue(this.#ctx, space, key, now);
  }

  putValue(space: Space, key: string, value: string, ttlMs: number) {
    return coordination.putValue(this.#ctx, space, key, value, ttlMs);
  }

  deleteValue(space: Space, key: string) {
    return coordination.deleteValue(this.#ctx, space, key);
  }

  consumeBudget(instance: string, name: string, input: BudgetInput) {
    return coordination.consumeBudget(this.#ctx, instance, name, input);
  }

  acquireLock(instance: string, name: string, input: LockInput) {
    return coordination.acquireLock(this.#ctx, instance, name, input);
  }

  renewLock(instance: string, name: string, input: LockInput & { token: number }) {
    return coordination.renewLock(this.#ctx, instance, name, input);
  }

  releaseLock(instance: string, name: string, input: { owner: string; token: number; now: number }) {
    return coordination.releaseLock(this.#ctx, instance, name, input);
  }

  getLock(instance: string, name: string, now: number) {
    return coordination.getLock(this.#ctx, instance, name, now);
  }

  appendAudit(instance: string, input: AuditAppend) {
    return audit.appendAudit(this.#ctx, instance, input);
  }

  readAudit(instance: string, input: AuditRange) {
    return audit.readAudit(this.#ctx, instance, input);
  }

  storeDeadLetter(queue: string, input: DeadLetterWrite) {
    return deadLetters.storeDeadLetter(this.#ctx, queue, input);
  }

  getDeadLetter(queue: string, id: string, now: number) {
    return deadLetters.getDeadLetter(this.#ctx, queue, id, now);
  }

  listDeadLetters(queue: string, input: DeadLetterListing) {
    return deadLetters.listDeadLetters(this.#ctx, queue, input);
  }

  recordDeadLetterReplay(queue: string, id: string, input: ReplayRecord) {
    return deadLetters.recordDeadLetterReplay(this.#ctx, queue, id, input);
  }

  deleteDeadLetter(queue: string, id: string, now: number) {
    return deadLetters.deleteDeadLetter(this.#ctx, queue, id, now);
  }
}
