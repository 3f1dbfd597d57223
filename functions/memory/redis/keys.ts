import type { RunStatus } from "../../../clients/memory/contract/runs.ts";
import { RUN_STATUSES } from "../../../clients/memory/contract/runs.ts";
import type { Space } from "../coordination/store.ts";

/**
 * The key schema (functions/memory/README.md lists it). Every key of an instance carries the hash tag `{i:<instance>}`
 * right after the prefix, so all of an instance's keys live in one Redis Cluster slot and every script and
 * transaction touches one slot only. The only keys outside an instance's slot are component namespaces
 * (`{ns:<name>}`) and the run id -> instance index (`{r:<run id>}`), which are written by single-key commands, and
 * dead-letter queues (`{dl:<queue>}`) and timers (`{tm}`), whose keys share their own slot.
 *
 * Instance names and namespace names are DNS labels and the prefix may not contain braces, so the first `{...}` of
 * every key is its tag; everything after the tag (session keys, message ids, ...) cannot change the slot. Each kind
 * of key starts with its own marker (`sm:`, `sl:`, `run:`, ...) so user-chosen parts can never collide across kinds.
 */
export class KeySchema {
  readonly prefix: string;

  constructor(prefix: string) {
    if (/[{}\s]/.test(prefix)) throw new Error("the memory key prefix must not contain braces or whitespace");
    this.prefix = prefix;
  }

  /** `<prefix>{i:<instance>}`: the start of every key of one instance. */
  instance(instance: string): string {
    return `${this.prefix}{i:${instance}}`;
  }

  // Sessions: meta hash (gen, at, seq, head, sum, st), message list (`<tokens>|<json>`), id -> seq hash.
  sessionMeta = (i: string, session: string) => `${this.instance(i)}:sm:${session}`;
  sessionMessages = (i: string, session: string) => `${this.instance(i)}:sl:${session}`;
  sessionIds = (i: string, session: string) => `${this.instance(i)}:si:${session}`;
  /** ZSET session key -> last activity. */
  sessions = (i: string) => `${this.instance(i)}:sessions`;

  // Identities: identity -> person, person -> JSON list of identities.
  identityPersons = (i: string) => `${this.instance(i)}:idmap`;
  personIdentities = (i: string) => `${this.instance(i)}:persons`;
  /** Pairing records by code (JSON), pending code by identity, approved identities. */
  pairing = (i: string) => `${this.instance(i)}:pair`;
  pairingBySender = (i: string) => `${this.instance(i)}:pair:by`;
  approved = (i: string) => `${this.instance(i)}:approved`;

  // Notes: id -> note JSON, id -> `<version>|<length>|<member>|<owner>`, id -> "term tf term tf ...".
  notes = (i: string) => `${this.instance(i)}:notes`;
  noteMeta = (i: string) => `${this.instance(i)}:notes:meta`;
  noteTerms = (i: string) => `${this.instance(i)}:notes:terms`;
  /** HASH docs, len: corpus statistics for ranking. */
  noteStats = (i: string) => `${this.instance(i)}:notes:stats`;
  /** ZSET (lex) of `<createdAt>:<id>` per owner (`i` or `u:<user>`). */
  notesByOwner = (i: string, owner: string) => `${this.instance(i)}:notes:o:${owner}`;
  /** ZSET note id -> term frequency. */
  posting = (i: string, term: string) => `${this.instance(i)}:nt:${term}`;

  // Runs: hash v, s, c, t, x, st, u; lex ZSETs of `<createdAt>:<id>` (all, per status); expiry ZSET member -> at.
  run = (i: string, id: string) => `${this.instance(i)}:run:${id}`;
  runs = (i: string) => `${this.instance(i)}:runs`;
  runsByStatus = (i: string, status: RunStatus) => `${this.instance(i)}:runs:s:${status}`;
  runsExpiry = (i: string) => `${this.instance(i)}:runs:exp`;
  /** HASH sha256 -> content: a run's blobs, living as long as the run (blobs/lua.ts, runs/lua.ts). */
  runBlobs = (i: string, id: string) => `${this.instance(i)}:rb:${id}`;
  /** The instance a run id belongs to (its own slot: written beside, not inside, the run's transaction). */
  runOwner = (id: string) => `${this.prefix}{r:${id}}`;

  /** Every per-status index, in RUN_STATUSES order (scripts find a status' key by that position). */
  runStatusKeys(i: string): string[] {
    return RUN_STATUSES.map((status) => this.runsByStatus(i, status));
  }

  /** Dedup and key/value entries (`<claim>|=<value>`) of an instance or a component namespace. */
  value(space: Space, key: string): string {
    const base = space.kind === "instance" ? this.instance(space.name) : `${this.prefix}{ns:${space.name}}`;
    return `${base}:v:${key}`;
  }

  // Budgets: sliding-window log (ZSET `<nonce>:<amount>` -> at) and its sum, running totals, remembered decisions.
  budgetLog = (i: string, name: string) => `${this.instance(i)}:bw:${name}`;
  budgetSum = (i: string, name: string) => `${this.instance(i)}:bs:${name}`;
  budgetTotal = (i: string, name: string) => `${this.instance(i)}:bt:${name}`;
  /** Request ids contain no ':', so the first ':' after `bd:` ends it. */
  budgetDecision = (i: string, requestId: string, name: string) => `${this.instance(i)}:bd:${requestId}:${name}`;

  /** Lock hash (t = fencing token, o = owner) and the lock's fencing counter, which never expires. */
  lock = (i: string, name: string) => `${this.instance(i)}:l:${name}`;
  fence = (i: string, name: string) => `${this.instance(i)}:lf:${name}`;

  /** Audit stream (field `e` = entry JSON) and remembered batch ids. */
  audit = (i: string) => `${this.instance(i)}:audit`;
  auditBatch = (i: string, batchKey: string) => `${this.instance(i)}:ab:${batchKey}`;

  /**
   * Timers, all instances' in the one slot `{tm}` so that one script claims every due one: ZSET member -> when next
   * due, HASH member -> timer JSON, HASH instance -> timers armed (timers/lua.ts).
   */
  timerKeys(): string[] {
    const base = `${this.prefix}{tm}`;
    return [`${base}:due`, `${base}:t`, `${base}:n`];
  }

  /** `<prefix>{dl:<queue>}`: the start of every key of one dead-letter queue (its own slot, like an instance). */
  deadLetterQueue(queue: string): string {
    return `${this.prefix}{dl:${queue}}`;
  }

  // Dead letters: entry hash, lex ZSET of `<receivedAt>:<id>`, expiry ZSET member -> at, id -> filter values JSON.
  deadLetter = (q: string, id: string) => `${this.deadLetterQueue(q)}:e:${id}`;
  deadLetters = (q: string) => `${this.deadLetterQueue(q)}:idx`;
  deadLettersExpiry = (q: string) => `${this.deadLetterQueue(q)}:exp`;
  deadLetterFilters = (q: string) => `${this.deadLetterQueue(q)}:f`;
}
