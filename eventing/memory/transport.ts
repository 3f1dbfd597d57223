import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * How the memory client moves one request. Two ways: `node:http` with keep-alive (the default: on Node 24 it costs
 * about an eighth of what `fetch` costs per call, and the memory service sits on every step of the agent loop), or an
 * injected `fetch` (`knclaw dev` routes requests to the in-process app). Both honour a per-attempt timeout.
 */
export interface OutgoingCall {
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

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export function nodeHttpTransport(): Transport {
  return (call) =>
    new Promise<IncomingAnswer>((resolve, reject) => {
      const secure = call.url.protocol === "https:";
      const headers: Record<string, string | number> = { ...call.headers };
      if (call.body !== undefined) headers["content-length"] = Buffer.byteLength(call.body);
      const request = (secure ? httpsRequest : httpRequest)(
        call.url,
        { method: call.method, headers, agent: secure ? agents.https : agents.http },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", fail);
          response.on("end", () => {
            clearTimeout(timer);
            resolve({
              status: response.statusCode ?? 0,
              header: (name) => {
                const value = response.headers[name.toLowerCase()];
                return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
              },
              text: Buffer.concat(chunks).toString("utf8"),
            });
          });
        },
      );
      function fail(error: Error) {
        clearTimeout(timer);
        reject(error);
      }
      const timer = setTimeout(() => {
        request.destroy(new TransportTimeout(`no answer within ${call.timeoutMs} ms`));
      }, call.timeoutMs);
      request.on("error", fail);
      request.end(call.body);
    });
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
