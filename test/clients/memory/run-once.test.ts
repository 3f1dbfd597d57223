import { describe, expect, it } from "vitest";
import { InFlightError, recallOnce, runOnce } from "../../../clients/memory/run-once.ts";
import { MapKeyValue } from "../../functions/channels/support/memory-state.ts";

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
});
