import { describe, expect, it } from "vitest";
import { MemoryError } from "../../../clients/memory/client.ts";
import { freshInstance, instanceScope } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

/** Concurrent callers over real HTTP; no retries, so every answer is the service's first and only decision. */
describe.each(TARGETS)("concurrency on $name", (target) => {
  const suite = useTarget(target);

  it("lets exactly one of 50 concurrent compare-and-set updates of one version win", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance), { retries: 0 });
    const { run } = await client.createRun(instance, { state: { owner: null } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        client.updateRun(instance, run.id, { expectedVersion: 1, state: { owner: i }, updateId: `u${i}` }),
      ),
    );
    const winners = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    const losers = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as MemoryError] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(49);
    for (const loser of losers)
      expect(loser).toMatchObject({ status: 412, code: "version_mismatch", currentVersion: 2 });
    const stored = await client.getRun(instance, run.id);
    expect(stored).toMatchObject({ version: 2, state: { owner: winners[0]!.state.owner } });
  });

  it("loses no update when 25 writers each increment a counter twice with read-modify-write", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance), { retries: 0 });
    const { run } = await client.createRun(instance, { state: { count: 0 } });
    let conflicts = 0;
    const increment = async () => {
      for (;;) {
        const current = (await client.getRun(instance, run.id))!;
        try {
          await client.updateRun(instance, run.id, {
            expectedVersion: current.version,
            state: { count: (current.state.count as number) + 1 },
          });
          return;
        } catch (error) {
          if (!(error instanceof MemoryError) || error.status !== 412) throw error;
          conflicts += 1;
        }
      }
    };
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        await increment();
        await increment();
      }),
    );
    const stored = await client.getRun(instance, run.id);
    expect(stored).toMatchObject({ version: 51, state: { count: 50 } });
    expect(conflicts).toBeGreaterThan(0);
  });

  it("never exceeds a budget under 200 concurrent consumes", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance), { retries: 0 });
    const ones = await Promise.all(
      Array.from({ length: 200 }, () => client.consumeBudget(instance, "calls", { amount: 1, limit: 137 })),
    );
    expect(ones.filter((d) => d.allowed)).toHaveLength(137);
    expect(Math.max(...ones.map((d) => d.used))).toBe(137);
    expect(await client.consumeBudget(instance, "calls", { amount: 0, limit: 137 })).toMatchObject({ used: 137 });

    const amounts = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7) % 5));
    const windowed = await Promise.all(
      amounts.map((amount) => client.consumeBudget(instance, "tokens", { amount, limit: 301, windowMs: 3_600_000 })),
    );
    const granted = windowed.reduce((sum, d, i) => sum + (d.allowed ? amounts[i]! : 0), 0);
    expect(granted).toBeLessThanOrEqual(301);
    expect(Math.max(...windowed.map((d) => d.used))).toBe(granted);
    const after = await client.consumeBudget(instance, "tokens", { amount: 0, limit: 301, windowMs: 3_600_000 });
    expect(after.used).toBe(granted);
    // Refusals happen only when the amount really did not fit at that moment.
    for (const [i, d] of windowed.entries()) if (!d.allowed) expect(d.used + amounts[i]!).toBeGreaterThan(301);
  });

  it("never lets two holders believe they hold a lock, and fencing tokens increase", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance), { retries: 0 });
    const first = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.acquireLock(instance, "race", { owner: `w${i}`, ttlMs: 60_000 })),
    );
    expect(first.filter((a) => a.acquired)).toHaveLength(1);

    let holder: string | undefined;
    let overlaps = 0;
    const tokens: number[] = [];
    const worker = async (name: string) => {
      for (let round = 0; round < 4; ) {
        const attempt = await client.acquireLock(instance, "mutex", { owner: name, ttlMs: 60_000 });
        if (!attempt.acquired) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        if (holder !== undefined) overlaps += 1;
        holder = name;
        tokens.push(attempt.token);
        // Hold it across a real round trip, so another worker's acquire lands while it is held.
        await client.getLock(instance, "mutex");
        holder = undefined;
        expect(await client.releaseLock(instance, "mutex", { owner: name, token: attempt.token })).toEqual({
          released: true,
        });
        round += 1;
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, i) => worker(`worker-${i}`)));
    expect(overlaps).toBe(0);
    expect(tokens).toHaveLength(24);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(24);
  });
});
