import { ToolFailure } from "../runtime/tool-error.ts";
import { loadedClientNode } from "./client-node.ts";

/**
 * Kubernetes failures as typed tool errors. The API server answers with a `metav1.Status` whose message says what
 * went wrong in terms the model can act on (`pods "web-1" not found`, `... cannot patch resource "deployments" in
 * the namespace "prod"`); that message is passed on, the raw body and headers (which may carry request ids, never
 * credentials, but are noise) are not.
 */
interface Status {
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number };
}

export function kubernetesFailure(error: unknown, signal?: AbortSignal): ToolFailure {
  if (error instanceof ToolFailure) return error;
  const ApiException = loadedClientNode()?.ApiException;
  if (ApiException && error instanceof ApiException) {
    return fromStatus(error.code, parseStatus(error.body), error.headers ?? {});
  }
  if (signal?.aborted || (error instanceof Error && error.name === "AbortError")) {
    return new ToolFailure("Timeout", "the Kubernetes API did not answer in time");
  }
  const code = networkCode(error);
  if (code !== undefined) return new ToolFailure("Unavailable", `cannot reach the Kubernetes API (${code})`);
  return new ToolFailure("Internal", "the Kubernetes request failed unexpectedly");
}

function fromStatus(code: number, status: Status | undefined, headers: Record<string, string>): ToolFailure {
  const message = status?.message?.slice(0, 1024) ?? `the Kubernetes API answered ${code}`;
  const retryAfter = Number(headers["retry-after"] ?? status?.details?.retryAfterSeconds);
  switch (code) {
    case 400:
    case 422:
      return new ToolFailure("ValidationFailed", message);
    case 401:
      return new ToolFailure("AuthExpired", "the skill's Kubernetes credentials were refused", { retryable: false });
    case 403:
      return new ToolFailure("PermissionDenied", message);
    case 404:
      return new ToolFailure("NotFound", message);
    case 409:
      return new ToolFailure("Conflict", message, { retryable: true });
    case 410:
      return new ToolFailure("Conflict", message, { retryable: true });
    case 429:
      return new ToolFailure(
        "RateLimited",
        message,
        Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {},
      );
    case 504:
      return new ToolFailure("Timeout", message);
    default:
      if (code >= 500) return new ToolFailure("Unavailable", message);
      return new ToolFailure("Internal", message);
  }
}

function parseStatus(body: unknown): Status | undefined {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== "object") return undefined;
  const status = value as Record<string, unknown>;
  if (status.kind !== "Status") return undefined;
  const out: Status = {};
  if (typeof status.message === "string") out.message = status.message;
  if (typeof status.reason === "string") out.reason = status.reason;
  if (typeof status.code === "number") out.code = status.code;
  const details = status.details as Record<string, unknown> | undefined;
  if (typeof details?.retryAfterSeconds === "number") out.details = { retryAfterSeconds: details.retryAfterSeconds };
  return out;
}

function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}
