/**
 * Run blob contents this process wrote or read, by sha256. Content-addressed, so an entry can never be stale; the
 * cache only saves the memory round trip when the next model call of a run shows a result the previous step stored.
 * Bounded by total size, least recently used out first.
 */
export class BlobCache {
  readonly #entries = new Map<string, string>();
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxChars = 16 * 1024 * 1024) {
    this.#maxChars = maxChars;
  }

  get(sha256: string): string | undefined {
    const content = this.#entries.get(sha256);
    if (content !== undefined) {
      this.#entries.delete(sha256);
      this.#entries.set(sha256, content);
    }
    return content;
  }

  set(sha256: string, content: string): void {
    if (content.length > this.#maxChars || this.#entries.has(sha256)) return;
    this.#entries.set(sha256, content);
    this.#chars += content.length;
    for (const [key, value] of this.#entries) {
      if (this.#chars <= this.#maxChars) break;
      this.#entries.delete(key);
      this.#chars -= value.length;
    }
  }
}
