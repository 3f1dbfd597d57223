import { describe, expect, it } from "vitest";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import { RunStore } from "../../../functions/gateway/run-store.ts";
import { MapKeyValue } from "../channels/support/memory-state.ts";

/** The same stored values seen by another process (a restarted gateway, or another replica). */
function anotherProcess(kv: KeyValueState): KeyValueState {
  return {
    setIfAbsent: (key, value, ttl) => kv.setIfAbsent(key, value, ttl),
    get: (key) => kv.get(key),
    set: (key, value, ttl) => kv.set(key, value, ttl),
    delete: (key) => kv.delete(key),
  };
}

describe("RunStore.append", () => {
  it("stores an event once even when the attempt that stored it died before marking it done", async () => {
    const kv = new MapKeyValue();
    let now = 1_000_000;
    kv.now = () => now;
    // The first process dies right after the event's slot is written: its done mark never lands.
    const dying: KeyValueState = {
      ...anotherProcess(kv),
      set: async (key, value, ttl) => {
        if (value.startsWith("done:")) throw new Error("killed");
        await kv.set(key, value, ttl);
      },
    };
    await expect(new RunStore(dying).append("r1", "ev-1", "message", { text: "hi" }, "t")).rejects.toThrow("killed");
    // Its claim runs out; the broker redelivers to a restarted gateway.
    now += 60_000;
    const store = new RunStore(anotherProcess(kv));
    await store.append("r1", "ev-1", "message", { text: "hi" }, "t");
    await store.append("r1", "ev-2", "completed", { output: "hi" }, "t");
    await store.append("r1", "ev-1", "message", { text: "hi" }, "t");
    expect((await store.read("r1", 0)).map((e) => [e.seq, e.type, e.eventId])).toEqual([
      [1, "message", "ev-1"],
      [2, "completed", "ev-2"],
    ]);
  });
});
