import { connect, type Socket } from "node:net";
import type { HeaderReader } from "../cloudevent/http-codec.ts";
import { createHttpTransport, type HttpTransport } from "./http-transport.ts";
import { type ParsedResponse, ResponseParseError, ResponseParser, ResponseTooLargeError } from "./http1-parser.ts";
import { TransportError, type TransportRequest, type TransportResponse } from "./transport.ts";

/**
 * The broker's delivery client for `http:` targets: HTTP/1.1 over a keep-alive socket pool, one request per socket at
 * a time, the request written in one piece and the response read by http1-parser.ts. Node's http.request costs
 * three to four times as much CPU per delivery, and deliveries are most of what the broker does. `https:` targets go
 * through Node's client (http-transport.ts).
 *
 * Like Go's transport (which Knative uses), a request that fails on a reused idle connection before any response
 * byte arrived is retried once on a fresh connection: the server closed the idle socket as we wrote to it.
 */
export interface Http1TransportOptions {
  maxSocketsPerHost?: number;
  /** Idle keep-alive sockets are closed after this long (default 30 s). */
  idleTimeoutMs?: number;
  maxHeaderBytes?: number;
}

interface Origin {
  host: string;
  port: number;
  hostHeader: string;
  idle: Connection[];
  open: number;
  /** Requests waiting for a socket; called with a reusable connection, or undefined when a slot freed up. */
  waiters: Array<(connection: Connection | undefined) => void>;
}

interface Target {
  origin: Origin;
  path: string;
}

interface Exchange {
  parser: ResponseParser;
  resolve(response: ParsedResponse): void;
  reject(error: Error): void;
}

interface Connection {
  socket: Socket;
  origin: Origin;
  reused: boolean;
  gone: boolean;
  current?: Exchange;
}

/** Header injection (CR, LF, NUL) and characters a header cannot carry (outside Latin-1), as Node's client refuses. */
function unsafeHeaderText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || code === 10 || code === 13 || code > 0xff) return true;
  }
  return false;
}
const SKIPPED = new Set(["content-length", "host", "transfer-encoding", "connection"]);

export function createHttp1Transport(options: Http1TransportOptions = {}): HttpTransport {
  const maxSockets = options.maxSocketsPerHost ?? 100;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
  const origins = new Map<string, Origin>();
  const targets = new Map<string, Target>();
  const https = createHttpTransport({ maxSocketsPerHost: maxSockets });
  let closed = false;

  function targetOf(url: string): Target | "https" {
    const cached = targets.get(url);
    if (cached) return cached;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TransportError("network", `invalid URL ${url}`);
    }
    if (parsed.protocol === "https:") return "https";
    if (parsed.protocol !== "http:") throw new TransportError("network", `unsupported URL scheme ${parsed.protocol}`);
    const port = parsed.port ? Number(parsed.port) : 80;
    const host = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
    const key = `${host}:${port}`;
    let origin = origins.get(key);
    if (!origin) {
      origin = { host, port, hostHeader: parsed.host, idle: [], open: 0, waiters: [] };
      origins.set(key, origin);
    }
    const target = { origin, path: `${parsed.pathname}${parsed.search}` };
    if (targets.size > 10_000) targets.clear();
    targets.set(url, target);
    return target;
  }

  /** Close a connection for good and hand its slot to the next waiter. */
  function discard(connection: Connection): void {
    if (connection.gone) return;
    connection.gone = true;
    const origin = connection.origin;
    const index = origin.idle.indexOf(connection);
    if (index >= 0) origin.idle.splice(index, 1);
    connection.socket.destroy();
    origin.open--;
    origin.waiters.shift()?.(undefined);
  }

  function release(connection: Connection, reusable: boolean): void {
    connection.current = undefined;
    if (!reusable || closed || connection.gone || !connection.socket.writable) {
      discard(connection);
      return;
    }
    connection.reused = true;
    const waiter = connection.origin.waiters.shift();
    if (waiter) {
      waiter(connection);
      return;
    }
    connection.socket.setTimeout(idleTimeoutMs);
    connection.origin.idle.push(connection);
  }

  function open(origin: Origin): Connection {
    origin.open++;
    const socket = connect({ host: origin.host, port: origin.port, noDelay: true });
    const connection: Connection = { socket, origin, reused: false, gone: false };
    socket.on("data", (data: Buffer) => {
      const exchange = connection.current;
      if (!exchange) {
        discard(connection); // bytes nobody asked for: the connection can no longer be trusted
        return;
      }
      let response: ParsedResponse | undefined;
      try {
        response = exchange.parser.push(data);
      } catch (error) {
        connection.current = undefined;
        discard(connection);
        exchange.reject(error as Error);
        return;
      }
      if (response) {
        release(connection, response.reusable);
        exchange.resolve(response);
      }
    });
    const gone = (error?: Error) => {
      const exchange = connection.current;
      connection.current = undefined;
      discard(connection);
      if (!exchange) return;
      if (error) {
        exchange.reject(error);
        return;
      }
      try {
        exchange.resolve(exchange.parser.end());
      } catch (parseError) {
        exchange.reject(parseError as Error);
      }
    };
    socket.on("error", (error) => gone(error));
    socket.on("close", () => gone());
    socket.on("timeout", () => {
      if (!connection.current) discard(connection);
    });
    return connection;
  }

  /** An idle connection, a new one, or a place in the queue (given up when `cancelled` says so). */
  function acquire(origin: Origin, cancelled: () => boolean): Connection | Promise<Connection> {
    for (let idle = origin.idle.pop(); idle; idle = origin.idle.pop()) {
      if (!idle.gone && idle.socket.writable) {
        idle.socket.setTimeout(0);
        return idle;
      }
      discard(idle);
    }
    if (origin.open < maxSockets) return open(origin);
    return new Promise((resolve) =>
      origin.waiters.push((connection) => {
        if (!cancelled()) resolve(connection ?? open(origin));
        else if (connection)
          release(connection, true); // pass it on to the next in line
        else origin.waiters.shift()?.(undefined);
      }),
    );
  }

  function exchange(connection: Connection, head: string, body: Uint8Array | undefined, maxBodyBytes: number) {
    return new Promise<ParsedResponse>((resolve, reject) => {
      connection.current = { parser: new ResponseParser(maxHeaderBytes, maxBodyBytes), resolve, reject };
      // One buffer, one write: no writev of two chunks per delivery.
      const headLength = Buffer.byteLength(head, "latin1");
      const bodyLength = body?.byteLength ?? 0;
      const message = Buffer.allocUnsafe(headLength + bodyLength);
      message.write(head, 0, "latin1");
      if (body && bodyLength > 0) message.set(body, headLength);
      connection.socket.write(message);
    });
  }

  function requestHead(target: Target, request: TransportRequest): string {
    let head = `POST ${target.path} HTTP/1.1\r\nhost: ${target.origin.hostHeader}\r\n`;
    for (const name in request.headers) {
      if (SKIPPED.has(name)) continue;
      const value = request.headers[name]!;
      if (unsafeHeaderText(name) || unsafeHeaderText(value))
        throw new TransportError("network", `invalid header ${name}`);
      head += `${name}: ${value}\r\n`;
    }
    return `${head}content-length: ${request.body?.byteLength ?? 0}\r\n\r\n`;
  }

  async function send(request: TransportRequest): Promise<TransportResponse> {
    if (closed) throw new TransportError("network", "transport closed");
    const target = targetOf(request.url);
    if (target === "https") return https(request);
    if (request.signal?.aborted) throw new TransportError("aborted", "delivery aborted");
    const head = requestHead(target, request);

    // Timeout and abort end the request wherever it is: waiting for a socket or for the response.
    // While waiting for a socket, `stopped` ends the wait; during the exchange, destroying the socket ends it.
    let current: Connection | undefined;
    let failure: TransportError | undefined;
    let stopWaiting: ((error: TransportError) => void) | undefined;
    const stop = (error: TransportError) => {
      failure ??= error;
      if (current) discard(current);
      stopWaiting?.(error);
    };
    const timer =
      request.timeoutMs !== undefined && request.timeoutMs > 0
        ? setTimeout(
            () => stop(new TransportError("timeout", `no complete response within ${request.timeoutMs} ms`)),
            request.timeoutMs,
          )
        : undefined;
    const onAbort = () => stop(new TransportError("aborted", "delivery aborted"));
    request.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (let attempt = 0; ; attempt++) {
        if (failure) throw failure;
        const acquired = acquire(target.origin, () => failure !== undefined);
        const connection =
          acquired instanceof Promise
            ? await new Promise<Connection>((resolve, reject) => {
                stopWaiting = reject;
                acquired.then(resolve);
              })
            : acquired;
        stopWaiting = undefined;
        if (failure) {
          release(connection, true);
          throw failure;
        }
        current = connection;
        const reused = connection.reused;
        try {
          const response = await exchange(connection, head, request.body, request.maxResponseBytes);
          if (failure) throw failure;
          return { status: response.status, headers: mapHeaderReader(response.headers), body: response.body };
        } catch (error) {
          if (failure) throw failure;
          if (error instanceof TransportError) throw error;
          if (error instanceof ResponseTooLargeError) throw new TransportError("response-too-large", error.message);
          const stale =
            (error instanceof ResponseParseError && error.message === "connection closed before a response") ||
            ["ECONNRESET", "EPIPE"].includes((error as NodeJS.ErrnoException).code ?? "");
          if (stale && reused && attempt === 0) continue;
          if (error instanceof ResponseParseError)
            throw new TransportError("network", `invalid response: ${error.message}`);
          throw new TransportError("network", (error as Error).message);
        } finally {
          current = undefined;
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
  }

  return Object.assign(send, {
    close() {
      closed = true;
      for (const origin of origins.values()) for (const connection of [...origin.idle]) discard(connection);
      https.close();
    },
  });
}

function mapHeaderReader(headers: Map<string, string>): HeaderReader {
  return {
    get: (name) => headers.get(name.toLowerCase()) ?? null,
    has: (name) => headers.has(name.toLowerCase()),
    forEach(callback) {
      for (const [name, value] of headers) callback(value, name);
    },
  };
}
