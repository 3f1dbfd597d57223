/**
 * Per-token request limits: a token bucket per token name, refilled continuously. The buckets live in this replica,
 * so with N replicas a token may reach N times the rate; the limit protects each replica and the broker behind it.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(requestsPerMinute: number, burst: number, now: () => number = Date.now) {
    this.perMs = requestsPerMinute / 60_000;
    this.burst = burst;
    this.now = now;
  }

  /** Take one request's worth; when none is left, how long until one is (ms). */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.perMs) };
  }
}
