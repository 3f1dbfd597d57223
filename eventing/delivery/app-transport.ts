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
    // One timer per attempt, cleared when the attempt ends: AbortSignal.timeout would keep every finished
    // delivery's timer (and what its signal holds) alive for the whole timeout.
    const attempt = attemptSignal(req.signal, req.timeoutMs);
    const signal = attempt.signal;
    if (signal.aborted) {
      attempt.clear();
      throw abortError(signal, req.timeoutMs);
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
      const onAbort = () => {
        attempt.clear();
        reject(abortError(signal, req.timeoutMs));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolveResult, reject).finally(() => {
        signal.removeEventListener("abort", onAbort);
        attempt.clear();
      });
    });
  };
}

/** The attempt's own signal: aborted by the caller's signal or by the timeout; `clear` releases both. */
function attemptSignal(outer: AbortSignal | undefined, timeoutMs: number | undefined) {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });
  const timer =
    timeoutMs && !controller.signal.aborted
      ? setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), timeoutMs)
      : undefined;
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
    },
  };
}

function abortError(signal: AbortSignal, timeoutMs: number | undefined): TransportError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === "TimeoutError"
    ? new TransportError("timeout", `no complete response within ${timeoutMs} ms`)
    : new TransportError("aborted", "delivery aborted");
}
