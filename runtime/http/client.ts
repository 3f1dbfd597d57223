import type { Socket } from "node:net";
import type { Agent, Dispatcher } from "undici";
import { type AbortWatcher, unwatchAbort, watchAbort } from "../abort-watch.ts";
import { type RawHeaders, ResponseHeaders } from "./response-headers.ts";

/**
 * The one HTTP/1.1 client of the platform's own hops: broker deliveries, events sent to a broker, memory service
 * calls. undici does the protocol (framing, chunked bodies, 1xx, smuggling checks, keep-alive pools); this module
 * only adds what every caller here needs around it: one deadline per request covering connect, headers and body,
 * an abort signal, a response size limit enforced while the body streams, and one retry when a kept-alive
 * connection turns out to have been closed by the server. It sits on undici's dispatch API, not `request()`: no
 * body stream and no promise per request beyond the one it returns, which is most of undici.request's overhead
 * for the small bodies these hops carry (measured on loopback: about two thirds of undici.request's CPU per call,
 * about 1.3 times the hand-written HTTP/1.1 client this replaced).
 */
export interface HttpClientOptions {
  /** Connections kept per origin (scheme, host and port). Default 256. */
  connectionsPerOrigin?: number;
  /**
   * How long an idle connection is kept when the server does not say (a `Keep-Alive: timeout=N` hint wins, less a
   * margin). Default 4 s, undici's: short enough to close before most servers drop idle connections themselves.
   */
  keepAliveTimeoutMs?: number;
  /** Default 10 s; a request's own deadline still applies while it waits for a connection. */
  connectTimeoutMs?: number;
  /** Largest response header section accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Default limit for a response body when a request sets none. Default 64 MiB. */
  maxResponseBytes?: number;
  /** Certificate authorities trusted for `https:` instead of Node's bundled ones (a cluster's own CA, say). */
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface HttpRequest {
  url: string | URL;
  /** Default GET. */
  method?: string;
  headers?: Readonly<Record<string, string>>;
  body?: Uint8Array | string;
  /**
   * One deadline for the whole exchange: waiting for a connection, connecting, sending, headers and body. (A
   * client's very first request also waits for undici to load, before its deadline starts.)
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A larger body fails the request (as soon as Content-Length says so, or while it streams). */
  maxResponseBytes?: number;
  /** Read the body to keep the connection reusable, but keep none of it (the response carries an empty body). */
  discardBody?: boolean;
  /**
   * May this request be sent again when a reused keep-alive connection closes before any response? Default: the
   * method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE). Set it for a POST whose receiver de-duplicates
   * (a CloudEvent by id, a memory call by its idempotency key).
   */
  replayable?: boolean;
}

interface HttpResponse {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  body: Uint8Array;
}

/**
 * No usable response. `invalid-request`: refused before anything was sent (bad URL or scheme, a header value with
 * CR/LF/NUL or beyond Latin-1, a forbidden header). `network`: connection refused, reset or closed, or a response
 * that is not valid HTTP/1.1.
 */
export type HttpFailure = "timeout" | "aborted" | "network" | "response-too-large" | "invalid-request";

export class HttpClientError extends Error {
  readonly kind: HttpFailure;
  constructor(kind: HttpFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HttpClientError";
    this.kind = kind;
  }
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
  /** Closes every connection; requests still in flight fail. */
  close(): Promise<void>;
}

const EMPTY = new Uint8Array(0);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** Bytes the connection had read when it failed, for socket errors that do not carry undici's socket info. */
const BYTES_READ = Symbol("bytesRead");

interface Target {
  origin: string;
  path: string;
}

type Undici = typeof import("undici")["default"];
let undici: Promise<Undici> | undefined;

/**
 * undici is loaded on the first request, not at import: it is most of a function bundle's size and start-up time,
 * and a scale-from-zero function should answer its readiness probe before it pays for it.
 */
function loadUndici(): Promise<Undici> {
  // `default` is module.exports both for Node's CommonJS interop and in an esbuild chunk (which has no named exports).
  undici ??= import("undici").then((module) => module.default);
  return undici;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const defaultMaxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  const targets = new Map<string, Target>();
  let agent: Agent | undefined;
  let loading: Promise<Agent> | undefined;
  let closed = false;

  function createAgent({ Agent, buildConnector }: Undici): Agent {
    const connector = buildConnector({
      timeout: options.connectTimeoutMs ?? 10_000,
      allowH2: false,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    return new Agent({
      connections: options.connectionsPerOrigin ?? 256,
      pipelining: 1,
      allowH2: false,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      maxHeaderSize: options.maxHeaderBytes ?? 64 * 1024,
      // One deadline per request (timeoutMs) instead of undici's separate 300 s header and body timers.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: (connectOptions, callback) =>
        connector(connectOptions, (error, socket) => {
          // Runs before undici's own error listener, so the error reaches the request marked with what the
          // connection had read: more than nothing means it carried earlier exchanges (see isStaleConnection).
          if (socket) socket.on("error", markBytesRead);
          (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
        }),
    });
  }

  function targetOf(url: string | URL): Target {
    if (typeof url === "string") {
      const cached = targets.get(url);
      if (cached) return cached;
    }
    let parsed: URL;
    try {
      parsed = typeof url === "string" ? new URL(url) : url;
    } catch {
      throw new HttpClientError("invalid-request", "invalid URL");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new HttpClientError("invalid-request", `unsupported URL scheme ${parsed.protocol}`);
    }
    const target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (typeof url === "string") {
      if (targets.size >= 10_000) targets.clear();
      targets.set(url, target);
    }
    return target;
  }

  function send(dispatcher: Agent, target: Target, request: HttpRequest): Promise<HttpResponse> {
    if (request.signal?.aborted) {
      return Promise.reject(new HttpClientError("aborted", "request aborted", { cause: request.signal.reason }));
    }
    return new Promise<HttpResponse>((resolve, reject) => {
      const maxBytes = request.maxResponseBytes ?? defaultMaxBytes;
      new Exchange(dispatcher, target, request, maxBytes, resolve, reject).start();
    });
  }

  return {
    request(request) {
      if (closed) return Promise.reject(new HttpClientError("network", "HTTP client closed"));
      let target: Target;
      try {
        target = targetOf(request.url);
      } catch (error) {
        return Promise.reject(error);
      }
      if (agent) return send(agent, target, request);
      loading ??= loadUndici().then((module) => {
        agent = createAgent(module);
        return agent;
      });
      return loading.then((loaded) =>
        closed ? Promise.reject(new HttpClientError("network", "HTTP client closed")) : send(loaded, target, request),
      );
    },
    async close() {
      closed = true;
      await (agent ?? (await loading))?.destroy();
    },
  };
}

let shared: HttpClient | undefined;

/**
 * One client for a process's hops to platform services (the memory service, a broker's ingress), created on first
 * use: its connections are shared by every client object that does not bring its own. Idle connections do not keep
 * the process alive.
 */
export function sharedHttpClient(): HttpClient {
  shared ??= createHttpClient();
  return shared;
}

function markBytesRead(this: Socket, error: Error): void {
  if (typeof error === "object" && error !== null) {
    (error as Error & { [BYTES_READ]?: number })[BYTES_READ] = this.bytesRead;
  }
}

/**
 * The connection closed or reset before any response, and it had read bytes before: a kept-alive connection that
 * the server closed as this request went out (its idle timeout raced the reuse). undici already re-checks an idle
 * connection before writing to it; this is the window after the write. Like Go's transport (which Knative uses)
 * for a request it may replay (idempotent, or carrying an idempotency key), such a request is sent once more on a
 * new connection. A failure on a fresh connection, or after a complete response head, is never replayed. The test
 * is "the connection had read bytes before it failed", so a close after part of a response head passes it too and
 * is replayed once.
 */
function isStaleConnection(error: Error): boolean {
  const { code, socket, message } = error as Error & { code?: string; socket?: { bytesRead?: number } };
  const closed =
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    (code === "UND_ERR_SOCKET" && (message === "other side closed" || message === "closed"));
  if (!closed) return false;
  const bytesRead = socket?.bytesRead ?? (error as Error & { [BYTES_READ]?: number })[BYTES_READ];
  return typeof bytesRead === "number" && bytesRead > 0;
}

/** undici's ways of saying the peer did not speak HTTP/1.1 (llhttp's errors carry no code). */
const INVALID_RESPONSE = new Set(["UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "UND_ERR_HEADERS_OVERFLOW"]);

function failureOf(error: Error): HttpClientError {
  if (error instanceof HttpClientError) return error;
  const code = (error as Error & { code?: string }).code ?? "";
  if (code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED") {
    return new HttpClientError("invalid-request", error.message, { cause: error });
  }
  if (
    error.name === "HTTPParserError" ||
    INVALID_RESPONSE.has(code) ||
    (code === "UND_ERR_SOCKET" && error.message.startsWith("bad "))
  ) {
    return new HttpClientError("network", `invalid response: ${error.message}`, { cause: error });
  }
  // An unrequested protocol switch (101) trips an internal assertion in undici 8; the connection is dropped.
  if (code === "ERR_ASSERTION") return new HttpClientError("network", "invalid response", { cause: error });
  return new HttpClientError("network", error.message || code || "connection failed", { cause: error });
}

function resolveAfterHandBack(resolve: (response: HttpResponse) => void, response: HttpResponse): void {
  setImmediate(resolve, response);
}

function onDeadline(exchange: Exchange): void {
  exchange.fail(new HttpClientError("timeout", `no complete response within ${exchange.request.timeoutMs} ms`));
}

/** One request and its (at most one) replay: undici's dispatch handler, and the promise it settles. */
class Exchange implements Dispatcher.DispatchHandler, AbortWatcher {
  readonly request: HttpRequest;
  private readonly agent: Agent;
  private readonly options: Dispatcher.DispatchOptions;
  private readonly maxBytes: number;
  private readonly resolve: (response: HttpResponse) => void;
  private readonly reject: (error: HttpClientError) => void;
  private readonly replayable: boolean;
  private controller: Dispatcher.DispatchController | undefined;
  private settled: HttpClientError | true | undefined;
  private replayed = false;
  private timer: NodeJS.Timeout | undefined;
  private status = 0;
  private statusText = "";
  private headers: RawHeaders | undefined;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    agent: Agent,
    target: Target,
    request: HttpRequest,
    maxBytes: number,
    resolve: (response: HttpResponse) => void,
    reject: (error: HttpClientError) => void,
  ) {
    this.agent = agent;
    this.request = request;
    this.maxBytes = maxBytes;
    this.resolve = resolve;
    this.reject = reject;
    const method = request.method ?? "GET";
    this.replayable = request.replayable ?? IDEMPOTENT.has(method);
    this.options = {
      origin: target.origin,
      path: target.path,
      method,
      headers: request.headers as Record<string, string> | undefined,
      body: request.body ?? null,
    };
  }

  start(): void {
    const { timeoutMs, signal } = this.request;
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(onDeadline, timeoutMs, this);
    // Watched, not listened to: no closure per request (runtime/abort-watch.ts says why).
    if (signal) watchAbort(signal, this);
    this.agent.dispatch(this.options, this);
  }

  aborted(reason: unknown): void {
    this.fail(new HttpClientError("aborted", "request aborted", { cause: reason }));
  }

  /** Ends the exchange wherever it is; a request still waiting for a connection is cancelled when it gets one. */
  fail(error: HttpClientError): void {
    if (this.settled !== undefined) return;
    this.settle(error);
    this.controller?.abort(error);
    this.reject(error);
  }

  private settle(outcome: HttpClientError | true): void {
    this.settled = outcome;
    if (this.timer) clearTimeout(this.timer);
    if (this.request.signal) unwatchAbort(this.request.signal, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled instanceof HttpClientError) {
      controller.abort(this.settled);
      return;
    }
    this.controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: RawHeaders,
    statusText?: string,
  ): void {
    if (this.settled !== undefined) return;
    const length = headers["content-length"];
    if (typeof length === "string" && Number(length) > this.maxBytes) {
      this.fail(this.tooLarge());
      return;
    }
    this.status = status;
    this.statusText = statusText ?? "";
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled !== undefined) return;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.fail(this.tooLarge());
      return;
    }
    if (this.request.discardBody !== true) this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled !== undefined) return;
    this.settle(true);
    const chunks = this.chunks;
    const body = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size);
    const response = {
      status: this.status,
      statusText: this.statusText,
      headers: new ResponseHeaders(this.headers ?? {}),
      body,
    };
    // undici hands a kept-alive connection back to its pool only on the next turn of the event loop (setImmediate,
    // queued right after this callback returns). A caller that sends its next request as soon as this one resolves
    // would find every connection still held and open another one; resolving after that hand-back keeps one
    // connection per request in flight, and costs less CPU than the extra connections do.
    process.nextTick(resolveAfterHandBack, this.resolve, response);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.settled !== undefined) return;
    if (this.status === 0 && this.replayable && !this.replayed && isStaleConnection(error)) {
      this.replayed = true;
      this.controller = undefined;
      this.agent.dispatch(this.options, this);
      return;
    }
    this.fail(failureOf(error));
  }

  private tooLarge(): HttpClientError {
    return new HttpClientError("response-too-large", `response body exceeds ${this.maxBytes} bytes`);
  }
}
