import { createHttpClient, type HttpClient, HttpClientError, type HttpClientOptions } from "./client.ts";

/**
 * A `fetch` for clients that take one by injection (the broker client, the memory client, SDKs), on the shared
 * HTTP client instead of Node's global fetch, whose WHATWG machinery costs several times the CPU per call. Same
 * contract for what such clients use: a URL or Request, method, headers, a body, an abort signal; an aborted call
 * rejects with the signal's reason, a network failure with a TypeError. Differences from the standard, on purpose:
 * redirects are not followed (a 3xx comes back as it is), the whole response body is read before the Response is
 * handed over (bounded by `maxResponseBytes`), and `response.url` is empty.
 */
export interface HttpFetchOptions extends HttpClientOptions {
  /** Send through this client (its connections are shared; close() then leaves it open). Default: a new one. */
  client?: HttpClient;
}

export type HttpFetch = typeof fetch & { close(): Promise<void> };

type FetchInput = Parameters<typeof fetch>[0];

/** Methods fetch normalises to upper case; any other method is sent as written. */
const NORMALISED = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"]);

export function createHttpFetch(options: HttpFetchOptions = {}): HttpFetch {
  const client = options.client ?? createHttpClient(options);
  const owned = options.client === undefined;

  const httpFetch = async (input: FetchInput, init: RequestInit = {}): Promise<Response> => {
    const fromRequest = input instanceof Request ? input : undefined;
    const url = fromRequest ? fromRequest.url : input instanceof URL ? input : String(input);
    const method = methodOf(init.method ?? fromRequest?.method ?? "GET");
    const headers = headersOf(init.headers ?? fromRequest?.headers);
    const signal = init.signal ?? fromRequest?.signal ?? undefined;
    let body: Uint8Array | string | undefined;
    if (init.body !== undefined && init.body !== null) {
      body = await bytesOf(init.body, headers);
    } else if (init.body === undefined && fromRequest?.body) {
      body = new Uint8Array(await fromRequest.arrayBuffer());
    }
    if (body !== undefined && (method === "GET" || method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    signal?.throwIfAborted();
    let answer: Awaited<ReturnType<HttpClient["request"]>>;
    try {
      answer = await client.request({
        url,
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(signal ? { signal } : {}),
        ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
      });
    } catch (error) {
      if (error instanceof HttpClientError && error.kind === "aborted" && signal?.aborted) throw signal.reason;
      throw new TypeError("fetch failed", { cause: error });
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers.raw)) {
      if (typeof value === "string") responseHeaders.append(name, value);
      else if (value !== undefined) for (const item of value) responseHeaders.append(name, item);
    }
    const nullBody = answer.status === 204 || answer.status === 205 || answer.status === 304 || method === "HEAD";
    try {
      return new Response(nullBody ? null : (answer.body as Uint8Array<ArrayBuffer>), {
        status: answer.status,
        statusText: answer.statusText,
        headers: responseHeaders,
      });
    } catch (error) {
      throw new TypeError("fetch failed", { cause: error });
    }
  };

  return Object.assign(httpFetch as typeof fetch, {
    close: () => (owned ? client.close() : Promise.resolve()),
  });
}

function methodOf(method: string): string {
  const upper = method.toUpperCase();
  return NORMALISED.has(upper) ? upper : method;
}

/** Plain records pass as they are (undici validates names and values); anything else goes through Headers. */
function headersOf(init: RequestInit["headers"]): Record<string, string> {
  if (init === undefined) return {};
  if (Object.getPrototypeOf(init) === Object.prototype) {
    const plain: Record<string, string> = {};
    for (const [name, value] of Object.entries(init as Record<string, unknown>))
      plain[name.toLowerCase()] = String(value);
    return plain;
  }
  const out: Record<string, string> = {};
  new Headers(init as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** Strings and bytes as they are; other body types (form data, blobs, streams) through the platform's Response. */
async function bytesOf(
  body: NonNullable<RequestInit["body"]>,
  headers: Record<string, string>,
): Promise<Uint8Array | string> {
  if (typeof body === "string") {
    headers["content-type"] ??= "text/plain;charset=UTF-8";
    return body;
  }
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const extracted = new Response(body);
  const contentType = extracted.headers.get("content-type");
  if (contentType !== null) headers["content-type"] ??= contentType;
  return new Uint8Array(await extracted.arrayBuffer());
}
