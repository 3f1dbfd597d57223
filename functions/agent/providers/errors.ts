/**
 * A failed model call, classified so the loop can decide: a transient failure (rate limit, overload, 5xx, network)
 * leaves the step uncommitted and asks the broker to redeliver later; a permanent one (auth, bad request) ends the run
 * with `model_error:<kind>`. Messages never carry credentials.
 */
export type ModelErrorKind =
  | "rate_limited"
  | "overloaded"
  | "server"
  | "connection"
  | "timeout"
  | "auth"
  /** The provider needs a key and the one configured resolved empty: nothing was sent (missing-credential.ts). */
  | "missing_credential"
  | "bad_request"
  | "aborted"
  | "invalid_response"
  /** The answer passed the output cap (text and tool-call arguments): the stream was closed there. */
  | "output_too_large"
  /** The run's wall-clock budget ran out while the model was answering. */
  | "deadline"
  /** The request cannot fit the model's context window, even with older tool results left out (never sent). */
  | "context_exceeded";

const TRANSIENT: ReadonlySet<ModelErrorKind> = new Set([
  "rate_limited",
  "overloaded",
  "server",
  "connection",
  "timeout",
]);

export class ModelError extends Error {
  readonly kind: ModelErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** The provider's own error type (`invalid_request_error`, ...), for logs, spans and the run's outcome. */
  readonly errorType: string | undefined;

  constructor(
    kind: ModelErrorKind,
    message: string,
    options: { status?: number; retryAfterMs?: number; errorType?: string } = {},
  ) {
    super(message);
    this.name = "ModelError";
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.errorType = options.errorType;
  }

  get transient(): boolean {
    return TRANSIENT.has(this.kind);
  }
}

/** Classify an SDK error (openai and @anthropic-ai/sdk share the shape: status, headers, name). */
export function classifySdkError(error: unknown, provider: string): ModelError {
  if (error instanceof ModelError) return error;
  const e = error as {
    status?: unknown;
    headers?: unknown;
    name?: unknown;
    message?: unknown;
    constructor?: { name?: string };
  };
  const name = String(e?.constructor?.name ?? e?.name ?? "Error");
  const status = typeof e?.status === "number" ? e.status : undefined;
  const retryAfterMs = readRetryAfter(e?.headers);
  const detail = status === undefined ? name : `HTTP ${status}`;
  if (name === "APIUserAbortError" || name === "AbortError")
    return new ModelError("aborted", `${provider}: request aborted`);
  if (name === "APIConnectionTimeoutError") return new ModelError("timeout", `${provider}: request timed out`);
  if (status === undefined) {
    if (name === "APIConnectionError") return new ModelError("connection", `${provider}: connection failed`);
    // An error event inside a stream (Anthropic's SSE `error`) has no status, only its error type.
    const streamed = streamErrorType(error);
    if (streamed === "overloaded_error") return new ModelError("overloaded", `${provider}: overloaded (in stream)`);
    if (streamed === "rate_limit_error") return new ModelError("rate_limited", `${provider}: rate limited (in stream)`);
    if (streamed === "api_error") return new ModelError("server", `${provider}: server error (in stream)`);
    return new ModelError("invalid_response", `${provider}: ${detail}: ${safeMessage(e?.message)}`);
  }
  const errorType =
    streamErrorType(error) ??
    (typeof (e as { type?: unknown }).type === "string" ? (e as { type: string }).type : undefined);
  const options = {
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(errorType === undefined ? {} : { errorType: safeMessage(errorType).slice(0, 64) }),
  };
  if (status === 429) return new ModelError("rate_limited", `${provider}: rate limited (${detail})`, options);
  if (status === 529 || status === 503)
    return new ModelError("overloaded", `${provider}: overloaded (${detail})`, options);
  if (status >= 500 || status === 408 || status === 409)
    return new ModelError("server", `${provider}: ${detail}`, options);
  if (status === 401 || status === 403)
    return new ModelError("auth", `${provider}: not authorised (${detail})`, options);
  return new ModelError("bad_request", `${provider}: ${detail}: ${safeMessage(e?.message)}`, options);
}

function streamErrorType(error: unknown): string | undefined {
  const body = (error as { error?: unknown } | null)?.error as
    | { type?: unknown; error?: { type?: unknown } }
    | undefined;
  const type = body?.error?.type ?? body?.type;
  return typeof type === "string" ? type : undefined;
}

function readRetryAfter(headers: unknown): number | undefined {
  const get = (name: string): string | null => {
    if (headers instanceof Headers) return headers.get(name);
    if (headers && typeof headers === "object") {
      const value = (headers as Record<string, unknown>)[name];
      return typeof value === "string" ? value : null;
    }
    return null;
  };
  const ms = Number(get("retry-after-ms"));
  if (get("retry-after-ms") !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = get("retry-after");
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Provider messages are kept short and stripped of anything that looks like a key. */
function safeMessage(message: unknown): string {
  const text = typeof message === "string" ? message : "";
  return text
    .replace(/(sk|key|xox[abp])-[A-Za-z0-9_-]{6,}/g, "[redacted]")
    .replace(/[^\x20-\x7e]/g, " ")
    .slice(0, 300);
}
