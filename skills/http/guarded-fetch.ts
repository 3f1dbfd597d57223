import { request as httpRequest, type IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { ToolFailure } from "../runtime/tool-error.ts";
import type { AllowList } from "./allow-list.ts";
import { guardedConnection, type Resolver, systemResolver } from "./guarded-connect.ts";
import { checkTarget, type Target, type UnsafeTestAllowance } from "./target-guard.ts";

/**
 * One outbound HTTP exchange under the http skill's rules: every hop (the first URL and each redirect) passes the
 * allow-list and the address policy, connections are checked on the address actually connected to, the whole
 * exchange has one deadline, and the body is cut at a byte cap (after decompression, so a small gzip bomb stays small).
 */
export interface GuardedFetchOptions {
  allowList: AllowList;
  resolver?: Resolver;
  timeoutMs: number;
  maxResponseBytes: number;
  maxRedirects: number;
  unsafeTestAllowance?: UnsafeTestAllowance;
  signal?: AbortSignal;
  userAgent?: string;
  ca?: string | Buffer;
}

export interface GuardedRequest {
  method: "GET" | "POST";
  url: string;
  headers?: Readonly<Record<string, string>>;
  body?: string;
}

export interface GuardedResponse {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
  /** Every URL that redirected, in order. */
  redirects: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function guardedFetch(request: GuardedRequest, options: GuardedFetchOptions): Promise<GuardedResponse> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const redirects: string[] = [];
  let method = request.method;
  let body = request.body;
  let headers = { ...request.headers };
  let url = request.url;
  let firstHost: string | undefined;
  for (;;) {
    const target = checkTarget(url, options.allowList, options.unsafeTestAllowance);
    firstHost ??= target.host;
    if (target.host !== firstHost) {
      // Headers the model set for one site are not forwarded to another one a redirect points at.
      headers = {};
    }
    const response = await exchange(target, method, headers, body, options, signal, deadline);
    const location = response.headers.location;
    if (REDIRECTS.has(response.statusCode ?? 0) && typeof location === "string") {
      response.resume();
      if (redirects.length >= options.maxRedirects) {
        throw new ToolFailure("Unavailable", `more than ${options.maxRedirects} redirects`, { retryable: false });
      }
      redirects.push(target.url.href);
      let next: URL;
      try {
        next = new URL(location, target.url);
      } catch {
        throw new ToolFailure("Unavailable", "redirect to an invalid URL", { retryable: false });
      }
      url = next.href;
      if (
        response.statusCode === 303 ||
        ((response.statusCode === 301 || response.statusCode === 302) && method === "POST")
      ) {
        method = "GET";
        body = undefined;
        delete headers["content-type"];
      }
      continue;
    }
    const { bytes, truncated } = await readCapped(response, options.maxResponseBytes, signal, deadline);
    return {
      url: target.url.href,
      status: response.statusCode ?? 0,
      headers: flattenHeaders(response),
      body: bytes,
      truncated,
      redirects,
    };
  }
}

function exchange(
  target: Target,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  options: GuardedFetchOptions,
  signal: AbortSignal,
  deadline: AbortSignal,
): Promise<IncomingMessage> {
  const url = target.url;
  const payload = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortFailure(deadline));
    const req = httpRequest({
      method,
      protocol: "http:",
      host: target.host,
      port: target.port,
      path: `${url.pathname}${url.search}`,
      headers: {
        ...headers,
        host: url.host,
        "user-agent": options.userAgent ?? "knclaw-http-skill",
        "accept-encoding": "gzip, deflate, br",
        connection: "close",
        ...(payload ? { "content-length": String(payload.length) } : {}),
      },
      createConnection: guardedConnection(target, {
        resolver: options.resolver ?? systemResolver,
        allowance: options.unsafeTestAllowance ?? [],
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      }) as never,
      signal,
    });
    req.once("response", resolve);
    req.once("error", (error) => reject(mapError(error, signal, deadline)));
    req.end(payload);
  });
}

async function readCapped(
  response: IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
  deadline: AbortSignal,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const stream = decoded(response);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      if (size + buffer.length > maxBytes) {
        chunks.push(buffer.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(buffer);
      size += buffer.length;
    }
  } catch (error) {
    throw mapError(error as Error, signal, deadline);
  } finally {
    response.destroy();
    if (stream !== response) stream.destroy();
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

function decoded(response: IncomingMessage): Readable {
  const encoding = String(response.headers["content-encoding"] ?? "")
    .trim()
    .toLowerCase();
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip()
      : encoding === "deflate"
        ? createInflate()
        : encoding === "br"
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return response;
  response.on("error", (error) => decoder.destroy(error));
  return response.pipe(decoder);
}

function flattenHeaders(response: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || name === "set-cookie") continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function abortFailure(deadline: AbortSignal): ToolFailure {
  return deadline.aborted
    ? new ToolFailure("Timeout", "the request timed out")
    : new ToolFailure("Timeout", "the call was cancelled", { retryable: false });
}

function mapError(error: Error, signal: AbortSignal, deadline: AbortSignal): ToolFailure {
  if (error instanceof ToolFailure) return error;
  if (signal.aborted || error.name === "AbortError") return abortFailure(deadline);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOTFOUND") return new ToolFailure("NotFound", "the host name does not resolve");
  if (code === "EAI_AGAIN") return new ToolFailure("Unavailable", "DNS lookup failed temporarily");
  if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return new ToolFailure("Unavailable", `connection failed (${code})`);
  }
  if (code?.startsWith("ERR_TLS") || code?.includes("CERT")) {
    return new ToolFailure("PermissionDenied", `TLS verification failed (${code})`);
  }
  if (
    code === "Z_DATA_ERROR" ||
    code === "ERR_PADDING_1" ||
    code?.startsWith("Z_") ||
    code?.startsWith("ERR__ERROR_FORMAT")
  ) {
    return new ToolFailure("Unavailable", "the response body could not be decompressed", { retryable: false });
  }
  return new ToolFailure("Unavailable", `request failed${code ? ` (${code})` : ""}`);
}
