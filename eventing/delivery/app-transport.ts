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
    const signals = [req.signal, req.timeoutMs ? AbortSignal.timeout(req.timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    if (signal?.aborted) throw abortError(signal, req.timeoutMs);
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
    if (!signal) return work;
    return new Promise<TransportResponse>((resolveResult, reject) => {
      const onAbort = () => reject(abortError(signal, req.timeoutMs));
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (result) => {
          signal.removeEventListener("abort", onAbort);
          resolveResult(result);
        },
        (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  };
}

function abortError(signal: AbortSignal, timeoutMs: number | undefined): TransportError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === "TimeoutError"
    ? new TransportError("timeout", `no complete response within ${timeoutMs} ms`)
    : new TransportError("aborted", "delivery aborted");
}
