import { type AbortWatcher, unwatchAbort, watchAbort } from "../../runtime/abort-watch.ts";
import { readBodyLimited } from "../cloudevent/body.ts";
import { CloudEventError } from "../cloudevent/errors.ts";
import {
  EMPTY_BODY,
  type Transport,
  TransportError,
  type TransportRequest,
  type TransportResponse,
} from "./transport.ts";

/** Anything with a Web-standard fetch handler: a FunctionApp, a hono app, the dev server's own router. */
export interface FetchHandler {
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Deliver to an app mounted in the same process: the Request goes straight to its fetch handler, no socket. The
 * per-attempt timeout and the response size limit apply exactly as over HTTP.
 */
export function createAppTransport(resolve: (url: string) => FetchHandler | undefined): Transport {
  return async (req: TransportRequest): Promise<TransportResponse> => {
    const app = resolve(req.url);
    if (!app) throw new TransportError("network", `nothing is mounted at ${req.url}`);
    const attempt = new Attempt(req.signal, req.timeoutMs);
    const signal = attempt.signal;
    if (signal.aborted) {
      attempt.end();
      throw attempt.error();
    }
    const request = new Request(req.url, {
      method: "POST",
      headers: req.headers,
      body: req.body && req.body.byteLength > 0 ? (req.body as Uint8Array<ArrayBuffer>) : null,
      signal,
    });
    const work = (async () => {
      let response: Response;
      try {
        response = await app.fetch(request);
      } catch (error) {
        // An app that throws is a server error, as a real server would answer it.
        return {
          status: 500,
          headers: new Headers(),
          body: new TextEncoder().encode(error instanceof Error ? error.message : "internal error"),
        };
      }
      try {
        const body = response.body ? await readBodyLimited(response, req.maxResponseBytes) : EMPTY_BODY;
        return { status: response.status, headers: response.headers, body };
      } catch (error) {
        if (error instanceof CloudEventError && error.status === 413) {
          throw new TransportError("response-too-large", `response body exceeds ${req.maxResponseBytes} bytes`);
        }
        throw new TransportError("network", error instanceof Error ? error.message : "response body failed");
      }
    })();
    return new Promise<TransportResponse>((resolveResult, reject) => {
      attempt.onAbort = reject;
      work.then(resolveResult, reject).finally(() => attempt.end());
    });
  };
}

/**
 * One attempt's own signal (its Request's): aborted by the caller's signal, which it watches (runtime/abort-watch.ts
 * says why not a listener), or by its timeout; the attempt then fails at once through `onAbort`. One timer per
 * attempt, cleared by `end`: AbortSignal.timeout would keep every finished delivery's timer (and what its signal
 * holds) alive for the whole timeout.
 */
class Attempt implements AbortWatcher {
  onAbort: ((error: TransportError) => void) | undefined;
  private readonly controller = new AbortController();
  private readonly outer: AbortSignal | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(outer: AbortSignal | undefined, timeoutMs: number | undefined) {
    this.outer = outer;
    this.timeoutMs = timeoutMs;
    if (outer?.aborted) this.controller.abort(outer.reason);
    else if (outer) watchAbort(outer, this);
    this.timer = timeoutMs && !this.signal.aborted ? setTimeout(attemptTimedOut, timeoutMs, this) : undefined;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  aborted(reason: unknown): void {
    this.end();
    this.controller.abort(reason);
    this.onAbort?.(this.error());
  }

  end(): void {
    clearTimeout(this.timer);
    if (this.outer) unwatchAbort(this.outer, this);
  }

  error(): TransportError {
    const reason = this.signal.reason as { name?: string } | undefined;
    return reason?.name === "TimeoutError"
      ? new TransportError("timeout", `no complete response within ${this.timeoutMs} ms`)
      : new TransportError("aborted", "delivery aborted");
  }
}

function attemptTimedOut(attempt: Attempt): void {
  attempt.aborted(new DOMException("timed out", "TimeoutError"));
}
