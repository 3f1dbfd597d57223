import { randomBytes } from "node:crypto";
import { gatewayEnv, tokenVariable } from "../functions/gateway/env.ts";
import { containerEnv } from "../knative/secrets/plan.ts";
import { LABEL_COMPONENT } from "../runtime/names.ts";
import { environmentValue } from "./dev/secrets.ts";
import { publishSessionToken, resolveToken } from "./session-tokens.ts";

/**
 * What the commands talking to the gateway's API share (`knclaw invoke`, `knclaw runs`, `knclaw pairing`): the base
 * URL (--url, else KNCLAW_GATEWAY_URL, else the local `knclaw dev` port), the bearer token (--token-file, else
 * KNCLAW_GATEWAY_TOKEN, else the token file `knclaw dev` wrote for that port; never a flag value), JSON calls whose
 * errors carry the gateway's own message, and Server-Sent Events. The token goes only into the Authorization
 * header: never into a URL, an error or an output line.
 */
export interface GatewayOptions {
  url?: string;
  tokenFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
}

const GATEWAY_TOKEN_ENV = "KNCLAW_GATEWAY_TOKEN";
const DEFAULT_TIMEOUT_MS = 30_000;
/** The gateway sends a keep-alive comment every 15 s; this much silence means the connection is gone. */
const STREAM_IDLE_MS = 60_000;

function gatewayBaseUrl(options: GatewayOptions): string {
  const env = options.env ?? process.env;
  return (options.url ?? env.KNCLAW_GATEWAY_URL ?? `http://127.0.0.1:${env.PORT || 8080}`).replace(/\/+$/, "");
}

function gatewayToken(options: GatewayOptions): string {
  return resolveToken({
    tokenFile: options.tokenFile,
    env: options.env ?? process.env,
    envName: GATEWAY_TOKEN_ENV,
    api: "gateway",
    baseUrl: gatewayBaseUrl(options),
    what: "gateway",
  });
}

/** A non-2xx answer, with the gateway's error code and message (which never echo the token). */
export class GatewayApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, code: string | undefined, message: string) {
    super(`the gateway answered ${status}: ${message}`);
    this.name = "GatewayApiError";
    this.status = status;
    this.code = code;
  }
}

interface GatewayResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

interface RequestInit {
  json?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

export interface GatewayClient {
  readonly baseUrl: string;
  request<T>(method: string, path: string, init?: RequestInit): Promise<GatewayResponse<T>>;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, json?: unknown): Promise<T>;
  /** A text/event-stream endpoint, event by event, until the server ends it or `signal` aborts. */
  events(
    path: string,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): AsyncGenerator<ServerSentEvent>;
}

async function failure(response: Response): Promise<GatewayApiError> {
  const text = await response.text().catch(() => "");
  let code: string | undefined;
  let message = text.trim().slice(0, 2000) || response.statusText;
  try {
    const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    code = error?.code;
    message = error?.message ?? message;
  } catch {
    // not JSON: keep the text
  }
  return new GatewayApiError(response.status, code, message);
}

/** A client for one base URL and token; the token is looked up now, so a missing one fails before any call. */
export function gatewayClient(options: GatewayOptions): GatewayClient {
  const baseUrl = gatewayBaseUrl(options);
  const token = gatewayToken(options);
  const doFetch = options.fetch ?? fetch;
  const authorization = `Bearer ${token}`;

  const request = async <T>(method: string, path: string, init: RequestInit = {}): Promise<GatewayResponse<T>> => {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers, authorization };
    if (init.json !== undefined) headers["content-type"] = "application/json";
    const response = await doFetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(init.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    if (!response.ok) throw await failure(response);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text === "" ? undefined : JSON.parse(text)) as T,
    };
  };

  async function* events(
    path: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): AsyncGenerator<ServerSentEvent> {
    const abort = new AbortController();
    const onOuterAbort = () => abort.abort(init.signal?.reason);
    init.signal?.addEventListener("abort", onOuterAbort, { once: true });
    // Safety nets, not pacing: no answer at all, or silence longer than the server's keep-alive interval.
    let timer = setTimeout(() => abort.abort(new Error("the gateway did not answer")), DEFAULT_TIMEOUT_MS);
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(new Error("the gateway's event stream went quiet")), STREAM_IDLE_MS);
    };
    try {
      const response = await doFetch(`${baseUrl}${path}`, {
        headers: { accept: "text/event-stream", ...init.headers, authorization },
        signal: abort.signal,
      });
      if (!response.ok) throw await failure(response);
      if (!response.body) return;
      quiet();
      for await (const event of readServerSentEvents(response.body, quiet)) yield event;
    } catch (error) {
      if (abort.signal.aborted && !init.signal?.aborted && abort.signal.reason instanceof Error) {
        throw abort.signal.reason;
      }
      throw error;
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener("abort", onOuterAbort);
      abort.abort();
    }
  }

  return {
    baseUrl,
    request,
    get: async <T>(path: string) => (await request<T>("GET", path)).body,
    post: async <T>(path: string, json?: unknown) => (await request<T>("POST", path, { json })).body,
    events,
  };
}

/**
 * Server-Sent Events as the HTML standard defines them: lines end in CRLF, LF or CR; `:` starts a comment; `data`
 * lines join with LF; an event is dispatched at a blank line (one without data is not); the type defaults to
 * `message`. `onActivity` is told about every chunk, comments (keep-alives) included.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  onActivity: () => void = () => {},
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data: string[] = [];
  let event = "";
  let id: string | undefined;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
        if (end < 0 || (end === buffer.length - 1 && buffer[end] === "\r")) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (data.length > 0)
            yield { ...(id !== undefined ? { id } : {}), event: event || "message", data: data.join("\n") };
          data = [];
          event = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) id = value;
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

// knclaw dev: the gateway's session token ------------------------------------------------------------------------

interface DevService {
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Tokens `knclaw dev` makes up for the gateway tokens the config names (gateway.tokens) that the environment does
 * not give (by `<SECRET>_<KEY>` or the gateway's own variable, as cli/dev/secrets.ts looks them up): a random one
 * per session, put into `env` under the gateway's variable so the dev secret resolver hands it over. Returns the
 * generated ones by token name, and every configured name.
 */
export function devGatewayTokens(
  objects: readonly DevService[],
  env: Record<string, string | undefined>,
): { generated: Map<string, string>; configured: string[] } {
  const generated = new Map<string, string>();
  const configured: string[] = [];
  for (const service of objects) {
    if (service.kind !== "Service" || service.metadata.labels?.[LABEL_COMPONENT] !== "gateway") continue;
    const entries = containerEnv(service);
    const names = (entries.find((entry) => entry.name === gatewayEnv.names.tokenNames)?.value ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean);
    for (const name of names) {
      configured.push(name);
      const variable = tokenVariable(name);
      const entry = entries.find((candidate) => candidate.name === variable);
      if (entry?.ref === undefined) continue;
      if (environmentValue(env, { ...entry.ref, envName: variable }) !== undefined) continue;
      const token = randomBytes(32).toString("base64url");
      env[variable] = token;
      generated.set(name, token);
    }
  }
  return { generated, configured };
}

/** The token name a client should use: `cli` when there is one, else the first. */
function preferredToken(names: Iterable<string>): string | undefined {
  const list = [...names].sort();
  return list.includes("cli") ? "cli" : list[0];
}

/**
 * What `knclaw dev` prints about the gateway once it listens: where the API and the MCP server are and where the token
 * for this session is (never the token), and a cleanup that removes the file at shutdown.
 */
export function announceDevGateway(
  url: string,
  port: number,
  tokens: { generated: ReadonlyMap<string, string>; configured: readonly string[] },
  exampleInstance?: string,
): { lines: string[]; cleanup: () => void } {
  const api = `${url}/api/v1`;
  const mcp = `MCP server:  ${url}/mcp  (the same bearer token; functions/gateway/README.md shows client setups)`;
  const example = exampleInstance ? `; knclaw invoke ${exampleInstance} "what time is it?"` : "";
  const name = preferredToken(tokens.generated.keys());
  if (name === undefined) {
    const why =
      tokens.configured.length === 0
        ? "no tokens configured: add gateway.tokens to knclaw.yaml"
        : `tokens from the environment; clients read $${GATEWAY_TOKEN_ENV}`;
    const lines = ["", `Gateway API: ${api}  (${why})`];
    return { lines: tokens.configured.length === 0 ? lines : [...lines, mcp], cleanup: () => {} };
  }
  const published = publishSessionToken("gateway", port, tokens.generated.get(name)!);
  const where =
    published.path !== undefined
      ? `token "${name}" for this session in ${published.path}${example}`
      : `no token file: ${published.problem}; set ${tokenVariable(name)} before knclaw dev`;
  return { lines: ["", `Gateway API: ${api}  (${where})`, mcp], cleanup: published.cleanup };
}
