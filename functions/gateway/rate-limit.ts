import type { GatewayRateLimit } from "./env.ts";

interface Limit {
  perMs: number;
  burst: number;
}

/**
 * Per-token request limits: a token bucket per token name, refilled continuously, at the token's own limit when
 * `gateway.rateLimit.tokens` names it, else the default. One bucket serves every instance and every API (`/api/v1`,
 * `/v1`, `/mcp`) the token reaches. The buckets live in this replica, so with N replicas a token may reach N times
 * the rate; the limit protects each replica and the broker behind it.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly fallback: Limit;
  private readonly limits: Map<string, Limit>;
  private readonly now: () => number;

  constructor(
    requestsPerMinute: number,
    burst: number,
    now: () => number = Date.now,
    own: GatewayRateLimit["tokens"] = {},
  ) {
    const limit = (rpm: number, size: number): Limit => ({ perMs: rpm / 60_000, burst: size });
    this.fallback = limit(requestsPerMinute, burst);
    this.limits = new Map(
      Object.entries(own).map(([name, limits]) => [
        name,
        limit(limits.requestsPerMinute ?? requestsPerMinute, limits.burst ?? burst),
      ]),
    );
    this.now = now;
  }

  /** Take one request's worth; when none is left, how long until one is (ms). */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const { perMs, burst } = this.limits.get(key) ?? this.fallback;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / perMs) };
  }
}
