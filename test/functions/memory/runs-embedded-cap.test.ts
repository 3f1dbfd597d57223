import { afterEach, describe, expect, it } from "vitest";
import { startMemory } from "./support/harness.ts";

/**
 * The embedded store keeps runs in the process's own memory, so finished runs are bounded by count as well as by age
 * (KNCLAW_MEMORY_EMBEDDED_MAX_FINISHED_RUNS): past the cap the runs that finished first go; runs still going stay.
 */
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("embedded store: finished runs capped by count", () => {
  it("drops the runs that finished first, never one still going, across instances", async () => {
    const h = await startMemory({ KNCLAW_MEMORY_BACKEND: "embedded", KNCLAW_MEMORY_EMBEDDED_MAX_FINISHED_RUNS: "3" });
    close = h.close;
    const operator = h.client({ kind: "operator" });
    const going = await operator.createRun("alpha", { id: "going", status: "running" });
    const finish = async (instance: string, id: string) => {
      const { run } = await operator.createRun(instance, { id, status: "running" });
      await operator.updateRun(instance, id, { expectedVersion: run.version, status: "completed" });
    };
    await finish("alpha", "a1");
    await finish("beta", "b1");
    // Created finished: counted like one that finished by an update.
    await operator.createRun("alpha", { id: "a2", status: "failed" });
    expect(await operator.getRun("alpha", "a1")).toBeDefined();

    await finish("beta", "b2");
    expect(await operator.getRun("alpha", "a1")).toBeUndefined();
    expect(await operator.getRun("beta", "b1")).toBeDefined();

    // A run that finishes again (an update of a finished run) moves to the back of the line.
    const b1 = await operator.getRun("beta", "b1");
    await operator.updateRun("beta", "b1", { expectedVersion: b1!.version, state: { noted: true } });
    await finish("alpha", "a3");
    expect(await operator.getRun("alpha", "a2")).toBeUndefined();
    expect(await operator.getRun("beta", "b1")).toBeDefined();
    expect(await operator.getRun("beta", "b2")).toBeDefined();
    expect(await operator.getRun("alpha", "a3")).toBeDefined();

    expect(await operator.getRun("alpha", "going")).toEqual(going.run);
    const listed = await operator.listRuns("alpha", {});
    expect(listed.runs.map((run) => run.id).sort()).toEqual(["a3", "going"]);
  });

  it("keeps 2,000 finished runs unless told otherwise", async () => {
    const h = await startMemory({ KNCLAW_MEMORY_BACKEND: "embedded" });
    close = h.close;
    const operator = h.client({ kind: "operator" });
    await operator.createRun("alpha", { id: "r0", status: "completed" });
    for (let batch = 0; batch < 20; batch++) {
      const ids = Array.from({ length: 100 }, (_, i) => `r${1 + batch * 100 + i}`);
      await Promise.all(ids.map((id) => operator.createRun("alpha", { id, status: "completed" })));
    }
    expect(await operator.getRun("alpha", "r0")).toBeUndefined();
    expect(await operator.getRun("alpha", "r1")).toBeDefined();
    expect(await operator.getRun("alpha", "r2000")).toBeDefined();
  });
});
