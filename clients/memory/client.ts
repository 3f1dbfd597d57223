import { createHash, randomBytes } from "node:crypto";
import { API_ANSWER, ApiError } from "../../runtime/api-error.ts";
import { type HttpClient, sharedHttpClient } from "../../runtime/http/client.ts";
import type { AppendAuditResponse, AuditEntryInput, ReadAuditQuery, ReadAuditResponse } from "./contract/audit.ts";
import type { BlobResponse, PutBlobRequest, PutBlobResponse } from "./contract/blobs.ts";
import type {
  AcquireLockRequest,
  AcquireLockResponse,
  ConsumeBudgetRequest,
  ConsumeBudgetResponse,
  DedupRequest,
  DedupResponse,
  DeleteValueResponse,
  LockStateResponse,
  ReleaseLockRequest,
  ReleaseLockResponse,
  RenewLockRequest,
  RenewLockResponse,
  ValueResponse,
} from "./contract/coordination.ts";
import type {
  DeadLetter,
  DeadLetterSummary,
  DeleteDeadLetterResponse,
  ListDeadLettersQuery,
  ListDeadLettersResponse,
  StoreDeadLetterRequest,
  StoreDeadLetterResponse,
} from "./contract/dead-letters.ts";
import type { ErrorBody, ErrorCode, ErrorIssue } from "./contract/errors.ts";
import type {
  AddNoteRequest,
  AddNoteResponse,
  ListNotesQuery,
  ListNotesResponse,
  Note,
  NoteResponse,
  SearchNotesRequest,
  SearchNotesResponse,
  UpdateNoteRequest,
} from "./contract/notes.ts";
import type {
  ApprovedResponse,
  ChannelIdentity,
  ListPairingResponse,
  PairingRecord,
  PairingRequestBody,
  PairingResponse,
  Person,
} from "./contract/people.ts";
import type {
  CreateRunRequest,
  CreateRunResponse,
  ListRunsQuery,
  ListRunsResponse,
  Run,
  UpdateRunRequest,
} from "./contract/runs.ts";
import type {
  AppendMessagesRequest,
  AppendMessagesResponse,
  CompactSessionRequest,
  CompactSessionResponse,
  ListSessionsResponse,
  ReadSessionQuery,
  ResetSessionRequest,
  ResetSessionResponse,
  SessionWindow,
  TrimSessionRequest,
  TrimSessionResponse,
} from "./contract/sessions.ts";
import type {
  ArmTimerRequest,
  ArmTimerResponse,
  DisarmTimerResponse,
  Timer,
  TimerResponse,
} from "./contract/timers.ts";
import {
  fetchTransport,
  httpClientTransport,
  type IncomingAnswer,
  type Transport,
  TransportTimeout,
} from "./transport.ts";

/**
 * The typed client of the memory service (used by the agent, skills, channel adapters and the gateway). One method
 * per operation, per-attempt timeouts, and retries with backoff on network failures and on a 503 without Retry-After
 * (a 503 naming one fails at once unless `waitOutRetryAfter`: see there). Operations that are not
 * naturally idempotent get an idempotency key generated once per call and reused by its retries (dedup `claim`,
 * budget `requestId`, run `updateId`, audit `batchKey`, run and note ids), so a retry after a lost answer never
 * applies twice. `fetch` is injectable: `knclaw dev` routes requests to the in-process app.
 */
export interface MemoryClientOptions {
  /** The service's base URL, e.g. `http://memory.knclaw.svc.cluster.local`. */
  baseUrl: string;
  token: string;
  /** Send requests through this instead of HTTP (e.g. straight into an in-process app). */
  fetch?: (request: Request) => Response | Promise<Response>;
  /** The HTTP client to send through when no `fetch` is given. Default: the process's shared client. */
  http?: HttpClient;
  /** Per attempt. Default 5000 ms. */
  timeoutMs?: number;
  /** Extra attempts after a 503, a network error or a timeout. Default 3. */
  retries?: number;
  /** First backoff; doubles per retry (with jitter), capped at 2 s. Default 100 ms. */
  retryDelayMs?: number;
  /**
   * Retry a 503 that names a Retry-After once that time has passed. Default false: such an answer is the service
   * saying its store is down for a while, so the call fails at once with the Retry-After on the error, and the
   * caller's own caller (an API client, a chat platform, the broker) retries later; sleeping through it here would
   * hold every request for seconds. Patient background work may turn it on.
   */
  waitOutRetryAfter?: boolean;
}

/** A failed call: the service's error (status and code) or `network` / `timeout` (status 0) when none came back. */
export class MemoryError extends Error {
  override readonly name = "MemoryError";
  readonly status: number;
  readonly code: ErrorCode | "network" | "timeout";
  readonly issues?: ErrorIssue[];
  /** On `version_mismatch` (412): the version the run, note or session generation has now. */
  readonly currentVersion?: number;
  /** On a 503: when the service said to come back (its Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(
    status: number,
    code: MemoryError["code"],
    message: string,
    extra: { issues?: ErrorIssue[]; currentVersion?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.status = status;
    this.code = code;
    this.issues = extra.issues;
    this.currentVersion = extra.currentVersion;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }

  get retryable(): boolean {
    return this.status === 503 || this.status === 0;
  }

  /**
   * What a function answers when this reaches its error handler: the memory service unavailable is its own 503 with
   * the same Retry-After (every API and every delivery alike); any other memory answer there is a bug (a 500).
   */
  [API_ANSWER](): ApiError | undefined {
    if (!this.retryable) return undefined;
    return new ApiError(503, "unavailable", "the memory service is unavailable; retry shortly", {
      retryAfterSeconds: this.retryAfterSeconds ?? 1,
    });
  }
}

/** Where dedup entries and key/values live: an instance's key space or a component namespace. */
export type ValueSpace = { instance: string } | { namespace: string };

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type Query = Record<string, string | number | boolean | undefined>;

const MAX_BACKOFF_MS = 2_000;

function idempotencyKey(): string {
  return randomBytes(16).toString("base64url");
}

const seg = encodeURIComponent;

function spacePath(space: ValueSpace): string {
  return "instance" in space ? `/v1/instances/${seg(space.instance)}` : `/v1/namespaces/${seg(space.namespace)}`;
}

/** A timer's name: the instance, the function it wakes, its kind and id. */
export interface TimerName {
  instance: string;
  target: Timer["target"];
  kind: string;
  id: string;
}

function timerPath(timer: TimerName): string {
  return `/v1/instances/${seg(timer.instance)}/timers/${timer.target}/${seg(timer.kind)}/${seg(timer.id)}`;
}

function identityPath(identity: ChannelIdentity): string {
  return `${seg(identity.channel)}/${seg(identity.sender)}`;
}

export class MemoryClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #waitOutRetryAfter: boolean;

  constructor(options: MemoryClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#transport = options.fetch
      ? fetchTransport(options.fetch)
      : httpClientTransport(options.http ?? sharedHttpClient());
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#retries = options.retries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#waitOutRetryAfter = options.waitOutRetryAfter ?? false;
  }

  // Sessions ------------------------------------------------------------------------------------------------------

  appendMessages(
    instance: string,
    sessionKey: string,
    request: AppendMessagesRequest,
  ): Promise<AppendMessagesResponse> {
    return this.#call("POST", `${this.#session(instance, sessionKey)}/messages`, request);
  }

  readSession(instance: string, sessionKey: string, query: ReadSessionQuery = {}): Promise<SessionWindow> {
    return this.#call("GET", `${this.#session(instance, sessionKey)}/messages`, undefined, query);
  }

  trimSession(instance: string, sessionKey: string, request: TrimSessionRequest): Promise<TrimSessionResponse> {
    return this.#call("POST", `${this.#session(instance, sessionKey)}/trim`, request);
  }

  compactSession(
    instance: string,
    sessionKey: string,
    request: CompactSessionRequest,
  ): Promise<CompactSessionResponse> {
    return this.#call("POST", `${this.#session(instance, sessionKey)}/compact`, request);
  }

  resetSession(instance: string, sessionKey: string, request: ResetSessionRequest = {}): Promise<ResetSessionResponse> {
    return this.#call("POST", `${this.#session(instance, sessionKey)}/reset`, request);
  }

  listSessions(instance: string, query: { limit?: number; cursor?: string } = {}): Promise<ListSessionsResponse> {
    return this.#call("GET", `/v1/instances/${seg(instance)}/sessions`, undefined, query);
  }

  // Identities and pairing ----------------------------------------------------------------------------------------

  linkIdentities(instance: string, identities: ChannelIdentity[]): Promise<Person> {
    return this.#call("POST", `/v1/instances/${seg(instance)}/identities/link`, { identities });
  }

  getPerson(instance: string, identity: ChannelIdentity): Promise<Person> {
    return this.#call("GET", `/v1/instances/${seg(instance)}/identities/${identityPath(identity)}`);
  }

  unlinkIdentity(instance: string, identity: ChannelIdentity): Promise<Person> {
    return this.#call("DELETE", `/v1/instances/${seg(instance)}/identities/${identityPath(identity)}`);
  }

  /** A pairing code for an unknown sender (the same code while one is pending), or `approved`. */
  requestPairing(instance: string, request: PairingRequestBody): Promise<PairingResponse> {
    return this.#call("POST", `/v1/instances/${seg(instance)}/pairing`, request);
  }

  async listPairing(instance: string): Promise<PairingRecord[]> {
    const answer = await this.#call<ListPairingResponse>("GET", `/v1/instances/${seg(instance)}/pairing`);
    return answer.pending;
  }

  approvePairing(instance: string, code: string, decidedBy?: string): Promise<PairingRecord> {
    return this.#decide(instance, code, "approve", decidedBy);
  }

  denyPairing(instance: string, code: string, decidedBy?: string): Promise<PairingRecord> {
    return this.#decide(instance, code, "deny", decidedBy);
  }

  async isApproved(instance: string, identity: ChannelIdentity): Promise<boolean> {
    const path = `/v1/instances/${seg(instance)}/approved/${identityPath(identity)}`;
    return (await this.#call<ApprovedResponse>("GET", path)).approved;
  }

  /** Add a sender to (or remove it from) the instance's approved identities directly, e.g. from an allow-list. */
  async setApproved(instance: string, identity: ChannelIdentity, approved: boolean): Promise<void> {
    const path = `/v1/instances/${seg(instance)}/approved/${identityPath(identity)}`;
    await this.#call<ApprovedResponse>(approved ? "PUT" : "DELETE", path);
  }

  // Notes ---------------------------------------------------------------------------------------------------------

  addNote(instance: string, request: AddNoteRequest): Promise<AddNoteResponse> {
    const withId = { ...request, id: request.id ?? `note_${idempotencyKey()}` };
    return this.#call("POST", `/v1/instances/${seg(instance)}/notes`, withId);
  }

  async getNote(instance: string, id: string): Promise<Note | undefined> {
    const answer = await this.#optional<NoteResponse>("GET", `/v1/instances/${seg(instance)}/notes/${seg(id)}`);
    return answer?.note;
  }

  async updateNote(instance: string, id: string, request: UpdateNoteRequest): Promise<Note> {
    const path = `/v1/instances/${seg(instance)}/notes/${seg(id)}`;
    return (await this.#call<NoteResponse>("PATCH", path, request)).note;
  }

  async deleteNote(instance: string, id: string): Promise<boolean> {
    const answer = await this.#optional<undefined>("DELETE", `/v1/instances/${seg(instance)}/notes/${seg(id)}`);
    return answer !== null;
  }

  listNotes(instance: string, query: ListNotesQuery = {}): Promise<ListNotesResponse> {
    return this.#call("GET", `/v1/instances/${seg(instance)}/notes`, undefined, query);
  }

  async searchNotes(instance: string, request: SearchNotesRequest): Promise<SearchNotesResponse["results"]> {
    const answer = await this.#call<SearchNotesResponse>(
      "POST",
      `/v1/instances/${seg(instance)}/notes/search`,
      request,
    );
    return answer.results;
  }

  // Runs ----------------------------------------------------------------------------------------------------------

  /** Create a run, or get the existing one with that id (`created: false`). */
  createRun(instance: string, request: CreateRunRequest = {}): Promise<CreateRunResponse> {
    const withId = { ...request, id: request.id ?? `run_${idempotencyKey()}` };
    return this.#call("POST", `/v1/instances/${seg(instance)}/runs`, withId);
  }

  async getRun(instance: string, id: string): Promise<Run | undefined> {
    const answer = await this.#optional<{ run: Run }>("GET", `/v1/instances/${seg(instance)}/runs/${seg(id)}`);
    return answer?.run;
  }

  /** A run by id whatever its instance (gateway and operator tokens; instance tokens for their own runs). */
  async findRun(id: string): Promise<Run | undefined> {
    return (await this.#optional<{ run: Run }>("GET", `/v1/runs/${seg(id)}`))?.run;
  }

  /** Compare-and-set; a MemoryError with code `version_mismatch` and `currentVersion` when the run moved on. */
  async updateRun(instance: string, id: string, request: UpdateRunRequest): Promise<Run> {
    const withKey = { ...request, updateId: request.updateId ?? idempotencyKey() };
    const path = `/v1/instances/${seg(instance)}/runs/${seg(id)}`;
    return (await this.#call<{ run: Run }>("PATCH", path, withKey)).run;
  }

  listRuns(instance: string, query: ListRunsQuery = {}): Promise<ListRunsResponse> {
    return this.#call("GET", `/v1/instances/${seg(instance)}/runs`, undefined, query);
  }

  /** Store a blob beside a run under the sha256 of its content (idempotent: the same content is the same blob). */
  async putRunBlob(instance: string, runId: string, content: string): Promise<PutBlobResponse> {
    const sha256 = createHash("sha256").update(content).digest("hex");
    const path = `/v1/instances/${seg(instance)}/runs/${seg(runId)}/blobs/${sha256}`;
    return this.#call("PUT", path, { content } satisfies PutBlobRequest);
  }

  /** A run's blob by its sha256; undefined once the run (and so its blobs) is gone. */
  async getRunBlob(instance: string, runId: string, sha256: string): Promise<string | undefined> {
    const path = `/v1/instances/${seg(instance)}/runs/${seg(runId)}/blobs/${seg(sha256)}`;
    return (await this.#optional<BlobResponse>("GET", path))?.content;
  }

  // Dedup and key/values ------------------------------------------------------------------------------------------

  /** Set-if-absent with a TTL: `firstSeen` for the first caller of a key (and for that caller's retries). */
  dedup(space: ValueSpace, request: DedupRequest): Promise<DedupResponse> {
    const withClaim = { ...request, claim: request.claim ?? idempotencyKey() };
    return this.#call("POST", `${spacePath(space)}/dedup`, withClaim);
  }

  async getValue(space: ValueSpace, key: string): Promise<ValueResponse | undefined> {
    return (await this.#optional<ValueResponse>("GET", `${spacePath(space)}/values/${seg(key)}`)) ?? undefined;
  }

  async putValue(space: ValueSpace, key: string, value: string, ttlMs: number): Promise<void> {
    await this.#call<ValueResponse>("PUT", `${spacePath(space)}/values/${seg(key)}`, { value, ttlMs });
  }

  async deleteValue(space: ValueSpace, key: string): Promise<boolean> {
    return (await this.#call<DeleteValueResponse>("DELETE", `${spacePath(space)}/values/${seg(key)}`)).deleted;
  }

  // Budgets and locks ---------------------------------------------------------------------------------------------

  consumeBudget(instance: string, name: string, request: ConsumeBudgetRequest): Promise<ConsumeBudgetResponse> {
    const withKey = { ...request, requestId: request.requestId ?? idempotencyKey() };
    return this.#call("POST", `/v1/instances/${seg(instance)}/budgets/${seg(name)}/consume`, withKey);
  }

  acquireLock(instance: string, name: string, request: AcquireLockRequest): Promise<AcquireLockResponse> {
    return this.#call("POST", `${this.#lock(instance, name)}/acquire`, request);
  }

  renewLock(instance: string, name: string, request: RenewLockRequest): Promise<RenewLockResponse> {
    return this.#call("POST", `${this.#lock(instance, name)}/renew`, request);
  }

  releaseLock(instance: string, name: string, request: ReleaseLockRequest): Promise<ReleaseLockResponse> {
    return this.#call("POST", `${this.#lock(instance, name)}/release`, request);
  }

  getLock(instance: string, name: string): Promise<LockStateResponse> {
    return this.#call("GET", this.#lock(instance, name));
  }

  // Audit ---------------------------------------------------------------------------------------------------------

  async appendAudit(instance: string, entries: AuditEntryInput[], batchKey?: string): Promise<string[]> {
    const body = { entries, batchKey: batchKey ?? idempotencyKey() };
    return (await this.#call<AppendAuditResponse>("POST", `/v1/instances/${seg(instance)}/audit`, body)).ids;
  }

  readAudit(instance: string, query: ReadAuditQuery = {}): Promise<ReadAuditResponse> {
    return this.#call("GET", `/v1/instances/${seg(instance)}/audit`, undefined, query);
  }

  // Timers --------------------------------------------------------------------------------------------------------

  /**
   * Arm (or move) a due-time timer: at `dueAt` the memory service emits dev.knclaw.timer.fired for it, which wakes
   * only `target` (the instance's agent, or the gateway). Idempotent; `armed: false` when a higher version is stored.
   */
  armTimer(timer: TimerName, request: ArmTimerRequest): Promise<ArmTimerResponse> {
    return this.#call("PUT", timerPath(timer), request);
  }

  async getTimer(timer: TimerName): Promise<Timer | undefined> {
    return (await this.#optional<TimerResponse>("GET", timerPath(timer)))?.timer;
  }

  /** Forget a timer (false when none was armed, or it fired already). */
  async disarmTimer(timer: TimerName): Promise<boolean> {
    return (await this.#call<DisarmTimerResponse>("DELETE", timerPath(timer))).disarmed;
  }

  // Dead letters --------------------------------------------------------------------------------------------------

  /** Keep a failed delivery; a redelivery of the same dead letter answers the stored entry (`created: false`). */
  storeDeadLetter(queue: string, request: StoreDeadLetterRequest): Promise<StoreDeadLetterResponse> {
    const withKey = { ...request, requestId: request.requestId ?? idempotencyKey() };
    return this.#call("POST", `/v1/deadletters/${seg(queue)}`, withKey);
  }

  /** Newest first; filtered pages may be short with a `nextCursor` (see ListDeadLettersResponse). */
  listDeadLetters(queue: string, query: ListDeadLettersQuery = {}): Promise<ListDeadLettersResponse> {
    return this.#call("GET", `/v1/deadletters/${seg(queue)}`, undefined, query);
  }

  async getDeadLetter(queue: string, id: string): Promise<DeadLetter | undefined> {
    const answer = await this.#optional<{ deadLetter: DeadLetter }>("GET", `/v1/deadletters/${seg(queue)}/${seg(id)}`);
    return answer?.deadLetter;
  }

  /** Count a replay of the entry (replayedAt, replayCount); undefined when the entry is gone. */
  async recordDeadLetterReplay(queue: string, id: string): Promise<DeadLetterSummary | undefined> {
    const path = `/v1/deadletters/${seg(queue)}/${seg(id)}/replayed`;
    const answer = await this.#optional<{ deadLetter: DeadLetterSummary }>("POST", path, {
      requestId: idempotencyKey(),
    });
    return answer?.deadLetter;
  }

  async deleteDeadLetter(queue: string, id: string): Promise<boolean> {
    const path = `/v1/deadletters/${seg(queue)}/${seg(id)}`;
    return (await this.#call<DeleteDeadLetterResponse>("DELETE", path)).deleted;
  }

  // Health --------------------------------------------------------------------------------------------------------

  /** Whether the service and its store answer (GET /readyz, a single attempt). */
  async ready(): Promise<boolean> {
    try {
      const answer = await this.#attempt({ method: "GET", url: new URL(`${this.#baseUrl}/readyz`), headers: {} });
      return answer.status === 200;
    } catch {
      return false;
    }
  }

  // Plumbing ------------------------------------------------------------------------------------------------------

  #session(instance: string, sessionKey: string): string {
    return `/v1/instances/${seg(instance)}/sessions/${seg(sessionKey)}`;
  }

  #lock(instance: string, name: string): string {
    return `/v1/instances/${seg(instance)}/locks/${seg(name)}`;
  }

  #decide(instance: string, code: string, verb: "approve" | "deny", decidedBy?: string): Promise<PairingRecord> {
    const body = decidedBy === undefined ? {} : { decidedBy };
    return this.#call("POST", `/v1/instances/${seg(instance)}/pairing/${seg(code)}/${verb}`, body);
  }

  /** Like #call, but a 404 `not_found` answers null instead of throwing. */
  async #optional<T>(method: Method, path: string, body?: unknown): Promise<T | null> {
    try {
      return await this.#call<T>(method, path, body);
    } catch (error) {
      if (error instanceof MemoryError && error.status === 404 && error.code === "not_found") return null;
      throw error;
    }
  }

  async #call<T>(method: Method, path: string, body?: unknown, query?: Query): Promise<T> {
    const url = new URL(`${this.#baseUrl}${path}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: "application/json" };
    if (payload !== undefined) headers["content-type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs = 0;
      let failure: MemoryError;
      try {
        const answer = await this.#attempt({
          method,
          url,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
        });
        if (answer.status >= 200 && answer.status < 300) {
          return (answer.status === 204 || answer.text === "" ? undefined : JSON.parse(answer.text)) as T;
        }
        retryAfterMs = Number(answer.header("retry-after") ?? 0) * 1000 || 0;
        failure = errorOf(answer, retryAfterMs);
      } catch (error) {
        failure =
          error instanceof TransportTimeout
            ? new MemoryError(0, "timeout", `the memory service did not answer within ${this.#timeoutMs} ms`)
            : new MemoryError(0, "network", "the memory service could not be reached", { cause: error });
      }
      if (!failure.retryable || attempt >= this.#retries) throw failure;
      if (retryAfterMs > 0 && !this.#waitOutRetryAfter) throw failure;
      const backoff = Math.min(MAX_BACKOFF_MS, this.#retryDelayMs * 2 ** attempt);
      const delay = Math.min(MAX_BACKOFF_MS, Math.max(retryAfterMs, backoff / 2 + Math.random() * (backoff / 2)));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  #attempt(call: Omit<Parameters<Transport>[0], "timeoutMs">): Promise<IncomingAnswer> {
    return this.#transport({ ...call, timeoutMs: this.#timeoutMs });
  }
}

function errorOf(answer: IncomingAnswer, retryAfterMs: number): MemoryError {
  const retryAfter = retryAfterMs > 0 ? { retryAfterSeconds: retryAfterMs / 1000 } : {};
  try {
    const { error } = JSON.parse(answer.text) as ErrorBody;
    if (error && typeof error.code === "string") {
      return new MemoryError(answer.status, error.code, error.message, {
        ...(error.issues ? { issues: error.issues } : {}),
        ...(error.currentVersion === undefined ? {} : { currentVersion: error.currentVersion }),
        ...retryAfter,
      });
    }
  } catch {
    // Not the service's error format (a proxy in between): fall through.
  }
  const code: ErrorCode = answer.status === 503 ? "unavailable" : "internal";
  return new MemoryError(answer.status, code, `memory service answered ${answer.status}`, retryAfter);
}
