/**
 * Runs tasks one at a time per key (a run id): steps of one run in this process never race each other, so
 * compare-and-set conflicts only happen across replicas. Keys are forgotten once idle.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  get size(): number {
    return this.tails.size;
  }
}

/** A bounded set that forgets its oldest members first. */
export class BoundedSet {
  private readonly members = new Set<string>();
  private readonly max: number;

  constructor(max = 10_000) {
    this.max = max;
  }

  add(value: string): void {
    this.members.delete(value);
    this.members.add(value);
    if (this.members.size > this.max) {
      const oldest = this.members.values().next().value;
      if (oldest !== undefined) this.members.delete(oldest);
    }
  }

  has(value: string): boolean {
    return this.members.has(value);
  }
}
