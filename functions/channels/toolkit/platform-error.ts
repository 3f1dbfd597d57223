import { ApiError } from "../../../runtime/api-error.ts";

/**
 * What went wrong calling a platform's API, classified the way the delivery side must act on it. It is the answer to
 * the broker's delivery too (its status by kind, below), so Knative's dispatcher retries exactly the failures worth
 * retrying (429 and 5xx) and dead-letters the permanent ones at once.
 */
export type PlatformErrorKind =
  /** The platform asked us to slow down; retry after `retryAfterMs`. */
  | "rate_limited"
  /** The platform or the network failed transiently (5xx, reset, timeout). */
  | "unavailable"
  /** Our credentials were refused: retrying will not help until an operator fixes the secret. */
  | "auth"
  /** The request itself is wrong for the platform (unknown chat, message too long, bad markup): never retry. */
  | "rejected";

/** The status a broker delivery is answered with after this kind of failure (docs/knative-semantics.md, "Delivery"). */
const DELIVERY_STATUS: Record<PlatformErrorKind, number> = {
  rate_limited: 429,
  unavailable: 503,
  // Permanent until a human rotates the secret: dead-letter now rather than hammering the platform.
  auth: 403,
  rejected: 422,
};

export class PlatformError extends ApiError {
  readonly platform: string;
  readonly kind: PlatformErrorKind;
  /** The platform's own error code (`channel_not_found`, Telegram's `error_code`, Graph `code`), when it gave one. */
  readonly platformCode: string | undefined;
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    platform: string,
    kind: PlatformErrorKind,
    message: string,
    details: { code?: string | undefined; httpStatus?: number | undefined; retryAfterMs?: number | undefined } = {},
  ) {
    super(DELIVERY_STATUS[kind], kind, `${platform}: ${message}`, {
      ...(details.retryAfterMs === undefined ? {} : { retryAfterSeconds: details.retryAfterMs / 1000 }),
      ...(details.code === undefined ? {} : { details: { platformCode: details.code } }),
    });
    this.name = "PlatformError";
    this.platform = platform;
    this.kind = kind;
    this.platformCode = details.code;
    this.httpStatus = details.httpStatus;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Classify a transport failure (fetch threw): always transient. */
export function networkError(platform: string, error: unknown): PlatformError {
  const reason = error instanceof Error ? error.name : "network error";
  return new PlatformError(platform, "unavailable", `request failed (${reason})`);
}

/** Classify an HTTP status when the platform's body said nothing more specific. */
export function errorFromStatus(platform: string, status: number, retryAfterMs?: number, code?: string): PlatformError {
  const details = { httpStatus: status, retryAfterMs, code };
  if (status === 429) return new PlatformError(platform, "rate_limited", "rate limited", details);
  if (status >= 500 || status === 408) return new PlatformError(platform, "unavailable", `HTTP ${status}`, details);
  if (status === 401 || status === 403) return new PlatformError(platform, "auth", `HTTP ${status}`, details);
  return new PlatformError(platform, "rejected", `HTTP ${status}${code ? ` (${code})` : ""}`, details);
}
