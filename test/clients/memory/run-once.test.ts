import { describe, expect, it } from "vitest";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import { InFlightError, recallOnce, runOnce } from "../../../clients/memory/run-once.ts";
import { MapKeyValue } from "../../functions/channels/support/memory-state.ts";

/** Another process' view of the same store (runOnce remembers its unsettled claims per store object). */
function viewOf(kv: KeyValueState): KeyValueState {
  return {
    setIfAbsent: (key, value, ttl) => kv.setIfAbsent(key, value, ttl),
    get: (key) => kv.get(key),
    set: (key, value, ttl) => kv.set(key, value, ttl),
    delete: (key) => kv.delete(key),
  };
}

/** A store that fails every call while `down` (Redis gone), counting the writes of each key. */
class FlakyKeyValue implements KeyValueState {
  down = false;
  readonly sets: string[] = [];
  readonly inner: MapKeyValue;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  constructor(inner = new MapKeyValue()) {
    this.inner = inner;
  }
  /** Resolves once `count` values have been written. */
  written(count: number): Promise<void> {
    if (this.sets.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
  private check(): void {
    if (this.down) throw new Error("store down");
  }
  async setIfAbsent(key: string, value: string, ttl: number) {
    this.check();
    return this.inner.setIfAbsent(key, value, ttl);
  }
  async get(key: string) {
    this.check();
    return this.inner.get(key);
  }
  async set(key: string, value: string, ttl: number) {
    this.check();
    await this.inner.set(key, value, ttl);
    this.sets.push(value);
    for (const waiter of this.waiters.filter((w) => this.sets.length >= w.count)) waiter.resolve();
  }
  async delete(key: string) {
    this.check();
    await this.inner.delete(key);
  }
}

const opts = { leaseSeconds: 60, keepSeconds: 3600 };

describe("runOnce", () => {
  it("does the work once and remembers its result", async () => {
    const kv = new MapKeyValue();
    let calls = 0;
    const first = await runOnce(kv, "k", opts, async () => ++calls, String);
    const second = await runOnce(kv, "k", opts, async () => ++calls, String);
    expect(first).toEqual({ fresh: true, value: 1, recorded: "1" });
    expect(second).toEqual({ fresh: false, recorded: "1" });
    expect(calls).toBe(1);
    expect(await recallOnce(kv, "k")).toBe("1");
  });

  it("releases the claim when the work fails, so a retry does the work", async () => {
    const kv = new MapKeyValue();
    await expect(runOnce(kv, "k", opts, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const retry = await runOnce(
      kv,
      "k",
      opts,
      async () => "ok",
      (v) => v,
    );
    expect(retry.fresh).toBe(true);
  });

  it("refuses a concurrent attempt while the first holds the claim", async () => {
    const kv = new MapKeyValue();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = runOnce(
      kv,
      "k",
      opts,
      () => gate.then(() => "done"),
      (v) => v,
    );
    await expect(runOnce(kv, "k", opts, async () => "second")).rejects.toBeInstanceOf(InFlightError);
    release();
    expect((await first).fresh).toBe(true);
  });

  it("lets a retry take over once a crashed attempt's lease expired", async () => {
    const kv = new MapKeyValue();
    let now = 1_000_000;
    kv.now = () => now;
    await kv.setIfAbsent("k", "inflight:crashed", 60);
    await expect(runOnce(kv, "k", opts, async () => "x")).rejects.toBeInstanceOf(InFlightError);
    now += 61_000;
    expect(
      (
        await runOnce(
          kv,
          "k",
          opts,
          async () => "x",
          (v) => v,
        )
      ).fresh,
    ).toBe(true);
  });

  it("forgets a result after keepSeconds", async () => {
    const kv = new MapKeyValue();
    let now = 0;
    kv.now = () => now;
    await runOnce(
      kv,
      "k",
      opts,
      async () => "a",
      (v) => v,
    );
    now += 3601_000;
    expect(
      (
        await runOnce(
          kv,
          "k",
          opts,
          async () => "b",
          (v) => v,
        )
      ).fresh,
    ).toBe(true);
  });

  it("renews the claim while the work runs, so a long work keeps it past one lease", async () => {
    const kv = new FlakyKeyValue();
    let now = 1_000_000;
    kv.inner.now = () => now;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lease = { leaseSeconds: 0.3, keepSeconds: 3600 };
    const first = runOnce(kv, "k", lease, () => gate.then(() => "done"));
    // The first renewal (a third of the lease in): from then on the claim lasts a lease from the renewal.
    await kv.written(1);
    now += 250;
    await kv.written(2);
    now += 250;
    await expect(runOnce(kv, "k", lease, async () => "second")).rejects.toBeInstanceOf(InFlightError);
    release();
    expect((await first).fresh).toBe(true);
  });

  it("after the store failed to mark a done work, this process' next attempt settles it without redoing it", async () => {
    const kv = new FlakyKeyValue();
    let calls = 0;
    await expect(
      runOnce(
        kv,
        "k",
        opts,
        async () => {
          calls++;
          kv.down = true;
          return "posted";
        },
        (v) => v,
      ),
    ).rejects.toThrow("store down");
    kv.down = false;
    // Another process still sees the claim in flight until its lease ends.
    await expect(runOnce(viewOf(kv), "k", opts, async () => "again")).rejects.toBeInstanceOf(InFlightError);
    const retry = await runOnce(kv, "k", opts, async () => {
      calls++;
      return "again";
    });
    expect(retry).toEqual({ fresh: false, recorded: "posted" });
    expect(calls).toBe(1);
    expect(await recallOnce(kv, "k")).toBe("posted");
  });

  it("after the store failed to release a failed work's claim, this process' next attempt does the work at once", async () => {
    const kv = new FlakyKeyValue();
    await expect(
      runOnce(kv, "k", opts, async () => {
        kv.down = true;
        throw new Error("platform down");
      }),
    ).rejects.toThrow("platform down");
    kv.down = false;
    const retry = await runOnce(
      kv,
      "k",
      opts,
      async () => "ok",
      (v) => v,
    );
    expect(retry).toEqual({ fresh: true, value: "ok", recorded: "ok" });
  });
});
