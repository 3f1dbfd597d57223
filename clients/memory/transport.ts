import { type HttpClient, HttpClientError } from "../../runtime/http/client.ts";

/**
 * How the memory client moves one request. Two ways: the shared HTTP client (the default: undici with keep-alive,
 * at a fraction of what `fetch` costs per call, and the memory service sits on every step of the agent loop), or an
 * injected `fetch` (`knclaw dev` routes requests to the in-process app). Both honour a per-attempt timeout.
 */
interface OutgoingCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface IncomingAnswer {
  status: number;
  header(name: string): string | null;
  text: string;
}

export type Transport = (call: OutgoingCall) => Promise<IncomingAnswer>;

/** The attempt got no answer in time; the request may or may not have reached the service. */
export class TransportTimeout extends Error {
  override readonly name = "TransportTimeout";
}

/**
 * Every memory call carries its idempotency key (or is a read), so a call that met a kept-alive connection the
 * service had just closed may be sent again at once.
 */
export function httpClientTransport(client: HttpClient): Transport {
  return async (call) => {
    try {
      const answer = await client.request({
        url: call.url,
        method: call.method,
        headers: call.headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        timeoutMs: call.timeoutMs,
        replayable: true,
      });
      const headers = answer.headers;
      return {
        status: answer.status,
        header: (name) => headers.get(name),
        text: Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength).toString("utf8"),
      };
    } catch (error) {
      if (error instanceof HttpClientError && error.kind === "timeout") throw new TransportTimeout(error.message);
      throw error;
    }
  };
}

export function fetchTransport(fetcher: (request: Request) => Response | Promise<Response>): Transport {
  return async (call) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new TransportTimeout(`no answer within ${call.timeoutMs} ms`));
      }, call.timeoutMs);
    });
    try {
      const request = new Request(call.url, {
        method: call.method,
        headers: call.headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        signal: controller.signal,
      });
      // Race the timeout against the answer and its body: an in-process fetch may ignore the abort signal.
      return await Promise.race([
        (async () => {
          const response = await fetcher(request);
          return {
            status: response.status,
            header: (name: string) => response.headers.get(name),
            text: await response.text(),
          };
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
