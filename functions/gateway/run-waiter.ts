/**
 * Waiting for something about a run to change. A replica that receives the run's events wakes its own waiters at
 * once; waiters on other replicas find the change by re-reading the memory service with a backoff (50 ms doubling
 * to 1 s), so a wait never depends on which replica the broker delivered to.
 */
export class RunWaiter {
  private readonly listeners = new Map<string, Set<() => void>>();

  notify(runId: string): void {
    for (const wake of this.listeners.get(runId) ?? []) wake();
  }

  /**
   * Re-evaluate `check` whenever the run may have changed, until it yields a value, the deadline passes or the
   * signal aborts; undefined when it never did.
   */
  async until<T>(
    runId: string,
    check: () => Promise<T | undefined>,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    let delay = 50;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return undefined;
      await this.sleep(runId, Math.min(delay, left), signal);
      delay = Math.min(delay * 2, 1_000);
    }
  }

  /** Resolves after `ms`, or earlier when the run is notified or the signal aborts. */
  private sleep(runId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.listeners.get(runId);
      if (set === undefined) {
        set = new Set();
        this.listeners.set(runId, set);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set.delete(done);
        if (set.size === 0) this.listeners.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
