/**
 * What went wrong calling a platform's API, classified the way the delivery side must act on it. An adapter answers a
 * broker delivery with the status `deliveryStatus` gives, so Knative's dispatcher retries exactly the failures worth
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

export class PlatformError extends Error {
  readonly platform: string;
  readonly kind: PlatformErrorKind;
  /** The platform's own error code (`channel_not_found`, Telegram's `error_code`, Graph `code`), when it gave one. */
  readonly code: string | undefined;
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    platform: string,
    kind: PlatformErrorKind,
    message: string,
    details: { code?: string | undefined; httpStatus?: number | undefined; retryAfterMs?: number | undefined } = {},
  ) {
    super(`${platform}: ${message}`);
    this.name = "PlatformError";
    this.platform = platform;
    this.kind = kind;
    this.code = details.code;
    this.httpStatus = details.httpStatus;
    this.retryAfterMs = details.retryAfterMs;
  }

  get retryable(): boolean {
    return this.kind === "rate_limited" || this.kind === "unavailable";
  }
}

/** The status an adapter answers a broker delivery with after this error (see KNATIVE-SEMANTICS.md "Delivery"). */
export function deliveryStatus(error: PlatformError): number {
  switch (error.kind) {
    case "rate_limited":
      return 429;
    case "unavailable":
      return 503;
    case "auth":
      // Permanent until a human rotates the secret: dead-letter now rather than hammering the platform.
      return 403;
    case "rejected":
      return 422;
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
