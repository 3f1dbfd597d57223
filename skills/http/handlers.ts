import type { ToolHandlers } from "../package/tool.ts";
import { fail } from "../runtime/tool-error.ts";
import { type GuardedFetchOptions, type GuardedResponse, guardedFetch } from "./guarded-fetch.ts";
import { htmlToText } from "./html-to-text.ts";
import type { tools } from "./tools.ts";

export interface HttpSkillOptions extends Omit<GuardedFetchOptions, "signal"> {
  /** Largest text returned to the model, in bytes of its JSON encoding (stays under the runtime's output cap). */
  maxTextBytes: number;
}

/** Headers the model may not set: framing, hop-by-hop, and the ones this skill sets itself. */
const FORBIDDEN_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "accept-encoding",
  "user-agent",
]);

/** Response headers worth showing the model; the rest is noise or tracking. */
const SHOWN_HEADERS = [
  "content-type",
  "content-length",
  "last-modified",
  "etag",
  "cache-control",
  "retry-after",
  "location",
];

export interface HttpResult {
  url: string;
  status: number;
  contentType: string;
  headers: Record<string, string>;
  /** The body as text (HTML reduced to text), absent for binary content. */
  text?: string;
  omitted?: string;
  truncated: boolean;
  redirects: string[];
}

export function createHttpHandlers(options: HttpSkillOptions): ToolHandlers<typeof tools> {
  return {
    get: async (args, context) => {
      const headers = checkHeaders(args.headers);
      const response = await guardedFetch(
        { method: "GET", url: args.url, headers },
        { ...options, signal: context.signal },
      );
      return present(response, options.maxTextBytes);
    },
    post: async (args, context) => {
      const headers = checkHeaders(args.headers);
      let body: string | undefined;
      if (args.json !== undefined) {
        body = JSON.stringify(args.json);
        headers["content-type"] = "application/json";
      } else if (args.body !== undefined) {
        body = args.body;
        headers["content-type"] = args.contentType ?? "text/plain; charset=utf-8";
      }
      const request = { method: "POST" as const, url: args.url, headers, ...(body === undefined ? {} : { body }) };
      return present(await guardedFetch(request, { ...options, signal: context.signal }), options.maxTextBytes);
    },
  };
}

function checkHeaders(given: Record<string, string> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) {
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith("proxy-"))
      throw fail.validation(`header ${name} may not be set`);
    headers[lower] = value;
  }
  return headers;
}

function present(response: GuardedResponse, maxTextBytes: number): HttpResult {
  const contentType = response.headers["content-type"] ?? "";
  const media = contentType.split(";", 1)[0]!.trim().toLowerCase();
  const headers: Record<string, string> = {};
  for (const name of SHOWN_HEADERS) {
    const value = response.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const result: HttpResult = {
    url: response.url,
    status: response.status,
    contentType,
    headers,
    truncated: response.truncated,
    redirects: response.redirects,
  };
  if (media === "text/html" || media === "application/xhtml+xml") {
    result.text = htmlToText(decode(response.body, contentType));
  } else if (isTextual(media)) {
    result.text = decode(response.body, contentType);
  } else if (response.body.length > 0) {
    result.omitted = `${response.body.length} bytes of ${media || "unlabelled"} content are not shown`;
  } else {
    result.text = "";
  }
  if (result.text !== undefined) {
    const capped = capText(result.text, maxTextBytes);
    if (capped !== result.text) {
      result.text = capped;
      result.truncated = true;
    }
  }
  return result;
}

/** Cut text so its JSON encoding fits: escapes can make JSON several times longer than the text itself. */
function capText(text: string, maxBytes: number): string {
  let current = text;
  let bytes = Buffer.byteLength(JSON.stringify(current));
  while (bytes > maxBytes && current.length > 0) {
    current = current.slice(0, Math.floor((current.length * maxBytes) / bytes / 1.05));
    // Never leave half of a surrogate pair at the cut.
    if (/[\uD800-\uDBFF]$/.test(current)) current = current.slice(0, -1);
    bytes = Buffer.byteLength(JSON.stringify(current));
  }
  return current;
}

function isTextual(media: string): boolean {
  return (
    media === "" ||
    media.startsWith("text/") ||
    media === "application/json" ||
    media.endsWith("+json") ||
    media === "application/xml" ||
    media.endsWith("+xml") ||
    media === "application/javascript" ||
    media === "application/x-www-form-urlencoded"
  );
}

function decode(body: Buffer, contentType: string): string {
  const charset = /charset\s*=\s*"?([A-Za-z0-9_-]+)/i.exec(contentType)?.[1]?.toLowerCase() ?? "utf-8";
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body);
  }
}
