/**
 * Which failed deliveries are worth another attempt, as Knative's dispatcher decides
 * (pkg/kncloudevents/retries.go): no response, connection errors and timeouts, every 5xx, and 404, 408, 409, 429.
 * Every other non-2xx is final and goes straight to the dead-letter sink.
 */
const RETRYABLE_BELOW_500 = new Set([404, 408, 409, 429]);

export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status >= 500 || RETRYABLE_BELOW_500.has(status);
}

export type BackoffPolicy = "linear" | "exponential";

/**
 * Delay before retry k (k = 1, 2, ...) following the dispatcher as implemented with its 0-based attempt count:
 * exponential d * 2^(k-1) (d, 2d, 4d), linear d * (k-1) (0, d, 2d). Without a policy or delay, retries are immediate.
 */
export function backoffDelayMs(policy: BackoffPolicy | undefined, delayMs: number | undefined, retry: number): number {
  if (policy === undefined || delayMs === undefined || retry < 1) return 0;
  return policy === "exponential" ? delayMs * 2 ** (retry - 1) : delayMs * (retry - 1);
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
