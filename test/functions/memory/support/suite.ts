import { afterAll, beforeAll } from "vitest";
import { type MemoryHarness, startMemory, TEST_LIMITS, TestClock } from "./harness.ts";
import type { Target } from "./targets.ts";

export interface Suite {
  h: MemoryHarness;
  clock: TestClock;
}

/** Start the service on `target` for the enclosing describe block; call the returned function inside tests. */
export function useTarget(target: Target, env: Record<string, string> = {}): () => Suite {
  let suite: Suite | undefined;
  let teardown: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const opened = await target.open();
    teardown = opened.teardown;
    const clock = new TestClock();
    suite = { h: await startMemory({ ...TEST_LIMITS, ...opened.env, ...env }, { now: clock.now }), clock };
  });
  afterAll(async () => {
    await suite?.h.close();
    await teardown?.();
  });
  return () => {
    if (!suite) throw new Error("the memory service did not start");
    return suite;
  };
}
