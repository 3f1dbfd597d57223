import type { RunStore } from "../runs/store.ts";
import type { BlobStore, BlobWrite } from "./store.ts";

interface RunBlobs {
  contents: Map<string, string>;
  /** Kept at least this long without a live run (the run retention after the last write). */
  orphanUntil: number;
}

/** Run blobs in process: alive while their run is (asked of the run store), or within the retention of their last write. */
export class EmbeddedBlobStore implements BlobStore {
  readonly #runs: RunStore;
  /** `<instance>\0<runId>` -> that run's blobs. */
  readonly #byRun = new Map<string, RunBlobs>();

  constructor(runs: RunStore) {
    this.#runs = runs;
  }

  async put(instance: string, runId: string, input: BlobWrite): Promise<void> {
    const key = `${instance}\u0000${runId}`;
    const blobs = this.#byRun.get(key) ?? { contents: new Map(), orphanUntil: 0 };
    blobs.contents.set(input.sha256, input.content);
    blobs.orphanUntil = input.now + input.retentionMs;
    this.#byRun.set(key, blobs);
  }

  async get(instance: string, runId: string, sha256: string, now: number): Promise<string | undefined> {
    const key = `${instance}\u0000${runId}`;
    const blobs = this.#byRun.get(key);
    if (blobs === undefined) return undefined;
    if (!(await this.#alive(instance, runId, blobs, now))) {
      this.#byRun.delete(key);
      return undefined;
    }
    return blobs.contents.get(sha256);
  }

  /** Frees the blobs of runs that are gone. */
  async sweep(now: number): Promise<void> {
    for (const [key, blobs] of this.#byRun) {
      const [instance, runId] = key.split("\u0000") as [string, string];
      if (!(await this.#alive(instance, runId, blobs, now))) this.#byRun.delete(key);
    }
  }

  async #alive(instance: string, runId: string, blobs: RunBlobs, now: number): Promise<boolean> {
    return (await this.#runs.get(instance, runId, now)) !== undefined || blobs.orphanUntil > now;
  }
}
