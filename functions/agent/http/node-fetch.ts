import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * A fetch for the agent's own hops (memory service, broker ingress) on plain node:http with keep-alive. Every turn
 * makes several such calls; undici's fetch spends over twice the CPU per call on its WHATWG machinery (measured in
 * test/bench/agent.ts), which is most of the platform's overhead per turn. Same contract as fetch for what the
 * clients use: method, headers, a string/bytes body, an abort signal; network failures reject with a TypeError.
 */
export interface NodeFetchOptions {
  maxSockets?: number;
}

type FetchInput = Parameters<typeof fetch>[0];

export function createNodeFetch(options: NodeFetchOptions = {}): typeof fetch & { close(): void } {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 }),
  };
  const nodeFetch = async (input: FetchInput, init: RequestInit = {}): Promise<Response> => {
    let url: URL;
    let method = init.method ?? "GET";
    let headers = new Headers(init.headers);
    let body: Uint8Array | undefined = toBytes(init.body);
    let signal = init.signal ?? undefined;
    if (input instanceof Request) {
      url = new URL(input.url);
      method = init.method ?? input.method;
      if (init.headers === undefined) headers = new Headers(input.headers);
      if (init.body === undefined && input.body !== null) body = new Uint8Array(await input.arrayBuffer());
      signal = init.signal ?? input.signal;
    } else {
      url = new URL(String(input));
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new TypeError(`fetch failed: unsupported protocol ${url.protocol}`);
    signal?.throwIfAborted();
    const outgoing: Record<string, string> = {};
    headers.forEach((value, name) => {
      outgoing[name] = value;
    });
    if (body !== undefined) outgoing["content-length"] = String(body.byteLength);
    return new Promise<Response>((resolve, reject) => {
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(
        url,
        { method, headers: outgoing, agent: agents[url.protocol as "http:" | "https:"] },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (error) => reject(new TypeError("fetch failed", { cause: error })));
          res.on("end", () => {
            const status = res.statusCode ?? 502;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
              else if (value !== undefined) responseHeaders.set(name, value);
            }
            const nullBody = status === 204 || status === 304 || method === "HEAD";
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage ?? "",
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      const onAbort = () =>
        req.destroy(signal?.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.on("error", (error) => {
        if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : error);
        else reject(new TypeError("fetch failed", { cause: error }));
      });
      req.end(body);
    });
  };
  return Object.assign(nodeFetch as typeof fetch, {
    close() {
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
  });
}

function toBytes(body: RequestInit["body"]): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError("this fetch sends string or byte bodies only");
}
