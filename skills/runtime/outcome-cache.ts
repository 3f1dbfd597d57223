/**
 * Replies a skill already computed, by delivery key, so a redelivered tool.requested (the broker retries, at-least-once)
 * is answered with the same tool.completed instead of running the tool again. Concurrent duplicates share the one
 * in-flight execution. Bounded by entries and age; per replica (across replicas and restarts, a mutating call's record
 * in the memory service answers, call-record.ts).
 */
export class OutcomeCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; at: number }>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: { maxEntries?: number; ttlMs?: number; now?: () => number } = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.ttlMs = options.ttlMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The cached value for `key`, or the result of `compute` (run once, even when called concurrently). */
  getOrCompute(key: string, compute: () => Promise<T>): { value: Promise<T>; cached: boolean } {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && at - hit.at <= this.ttlMs) return { value: hit.value, cached: true };
    const value = compute();
    this.entries.set(key, { value, at });
    // A failed computation is not an answer: forget it so a redelivery tries again.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    this.evict(at);
    return { value, cached: false };
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(at: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && at - entry.at <= this.ttlMs) break;
      this.entries.delete(key);
    }
  }
}
