import { describe, expect, it } from "vitest";
import {
  AcquireLockResponse,
  ConsumeBudgetResponse,
  DedupResponse,
} from "../../../clients/memory/contract/coordination.ts";
import { eventually, freshInstance, instanceScope } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

describe.each(TARGETS)("dedup, key/values, budgets and locks on $name", (target) => {
  const suite = useTarget(target);

  it("reports the first sighting of a key once, and a claimant's retries as first again", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const space = { instance };
    const first = DedupResponse.parse(
      await client.dedup(space, { key: "evt-1", ttlMs: 60_000, claim: "worker-a", value: "processing" }),
    );
    expect(first).toEqual({ firstSeen: true, value: "processing" });
    expect(await client.dedup(space, { key: "evt-1", ttlMs: 60_000, claim: "worker-b" })).toEqual({
      firstSeen: false,
      value: "processing",
    });
    // The first claimant retrying (its answer was lost) is told it is first, so it does not drop its own event.
    expect(await client.dedup(space, { key: "evt-1", ttlMs: 60_000, claim: "worker-a" })).toEqual({
      firstSeen: true,
      value: "processing",
    });
    // Keys are per instance.
    expect(
      (await h.client(instanceScope("other-inst")).dedup({ instance: "other-inst" }, { key: "evt-1", ttlMs: 1000 }))
        .firstSeen,
    ).toBe(true);
  });

  it("forgets a dedup key after its TTL", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    expect((await client.dedup({ instance }, { key: "short", ttlMs: 150 })).firstSeen).toBe(true);
    expect((await client.dedup({ instance }, { key: "short", ttlMs: 150 })).firstSeen).toBe(false);
    // Expiry is the store's (Redis') own clock: wait for it rather than move the test clock.
    await eventually(async () => (await client.dedup({ instance }, { key: "short", ttlMs: 60_000 })).firstSeen);
    expect((await client.dedup({ instance }, { key: "short", ttlMs: 60_000 })).firstSeen).toBe(false);
  });

  it("keeps component namespaces apart from instances and closed to instance tokens", async () => {
    const { h } = suite();
    const channel = h.client({ kind: "channel", name: "slack" });
    const namespace = `slack-${freshInstance()}`;
    expect((await channel.dedup({ namespace }, { key: "Ev123", ttlMs: 60_000 })).firstSeen).toBe(true);
    expect((await h.client({ kind: "gateway" }).dedup({ namespace }, { key: "Ev123", ttlMs: 60_000 })).firstSeen).toBe(
      false,
    );
    const instance = freshInstance();
    expect((await channel.dedup({ instance }, { key: "Ev123", ttlMs: 60_000 })).firstSeen).toBe(true);
    await expect(
      h.client(instanceScope(instance)).dedup({ namespace }, { key: "x", ttlMs: 1000 }),
    ).rejects.toMatchObject({
      status: 403,
    });
    await expect(h.client({ kind: "notes" }).dedup({ namespace }, { key: "x", ttlMs: 1000 })).rejects.toMatchObject({
      status: 403,
    });
  });

  it("stores, reads and deletes key/values with a TTL", async () => {
    const { h, clock } = suite();
    const space = { namespace: `kv-${freshInstance()}` };
    const client = h.client({ kind: "channel" });
    expect(await client.getValue(space, "interaction/abc")).toBeUndefined();
    await client.putValue(space, "interaction/abc", '{"token":"t"}', 60_000);
    const value = await client.getValue(space, "interaction/abc");
    expect(value?.value).toBe('{"token":"t"}');
    expect(value?.expiresAt).toBeGreaterThan(clock.now());
    await client.putValue(space, "interaction/abc", "replaced", 60_000);
    expect((await client.getValue(space, "interaction/abc"))?.value).toBe("replaced");
    // A dedup key is a value too (without one unless given).
    await client.dedup(space, { key: "claimed", ttlMs: 60_000 });
    expect((await client.getValue(space, "claimed"))?.value).toBeNull();
    expect(await client.deleteValue(space, "interaction/abc")).toBe(true);
    expect(await client.deleteValue(space, "interaction/abc")).toBe(false);
    expect(await client.getValue(space, "interaction/abc")).toBeUndefined();
  });

  it("consumes a total budget all or nothing, and a retried consume counts once", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const consume = (amount: number, requestId?: string) =>
      client.consumeBudget(instance, "run:r1:tokens", { amount, limit: 100, ...(requestId ? { requestId } : {}) });
    expect(ConsumeBudgetResponse.parse(await consume(60, "a"))).toEqual({
      allowed: true,
      used: 60,
      remaining: 40,
      limit: 100,
      resetAt: null,
    });
    expect(await consume(60, "a")).toMatchObject({ allowed: true, used: 60 });
    expect(await consume(50)).toMatchObject({ allowed: false, used: 60, remaining: 40 });
    expect(await consume(40)).toMatchObject({ allowed: true, used: 100, remaining: 0 });
    expect(await consume(1)).toMatchObject({ allowed: false, used: 100, remaining: 0 });
    expect(await consume(0)).toMatchObject({ allowed: true, used: 100 });
    const withTtl = await client.consumeBudget(instance, "per-run", { amount: 1, limit: 5, ttlMs: 60_000 });
    expect(withTtl.resetAt).toEqual(expect.any(Number));
  });

  it("consumes against a sliding window and gives capacity back as it slides", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const consume = (amount: number) =>
      client.consumeBudget(instance, "tokens:minute", { amount, limit: 10, windowMs: 60_000 });
    const first = await consume(6);
    expect(first).toMatchObject({ allowed: true, used: 6, remaining: 4 });
    const start = first.resetAt! - 60_000;
    clock.advance(30_000);
    expect(await consume(4)).toMatchObject({ allowed: true, used: 10, resetAt: start + 60_000 });
    expect(await consume(1)).toMatchObject({ allowed: false, used: 10 });
    clock.advance(30_001);
    // The first 6 left the window; the 4 from 30 s ago are still in it.
    expect(await consume(6)).toMatchObject({ allowed: true, used: 10 });
    clock.advance(60_001);
    expect(await consume(0)).toMatchObject({ allowed: true, used: 0, remaining: 10, resetAt: null });
    const both = await h.raw(`/v1/instances/${instance}/budgets/b/consume`, {
      method: "POST",
      scope: instanceScope(instance),
      json: { amount: 1, limit: 1, windowMs: 1000, ttlMs: 1000 },
    });
    expect(both.status).toBe(400);
  });

  it("locks with fencing tokens that increase with every acquisition", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const acquired = AcquireLockResponse.parse(
      await client.acquireLock(instance, "schedule:nightly", { owner: "a", ttlMs: 60_000 }),
    );
    if (!acquired.acquired) throw new Error("expected the lock");
    expect(acquired.token).toBe(1);
    expect(await client.acquireLock(instance, "schedule:nightly", { owner: "b", ttlMs: 60_000 })).toMatchObject({
      acquired: false,
    });
    // The holder asking again (a retry) keeps its token.
    expect(await client.acquireLock(instance, "schedule:nightly", { owner: "a", ttlMs: 60_000 })).toMatchObject({
      acquired: true,
      token: 1,
    });
    expect(await client.getLock(instance, "schedule:nightly")).toMatchObject({ held: true, owner: "a", token: 1 });
    expect(await client.renewLock(instance, "schedule:nightly", { owner: "a", token: 1, ttlMs: 60_000 })).toMatchObject(
      {
        renewed: true,
      },
    );
    expect(await client.renewLock(instance, "schedule:nightly", { owner: "a", token: 2, ttlMs: 60_000 })).toEqual({
      renewed: false,
      expiresAt: null,
    });
    expect(await client.releaseLock(instance, "schedule:nightly", { owner: "b", token: 1 })).toEqual({
      released: false,
    });
    expect(await client.releaseLock(instance, "schedule:nightly", { owner: "a", token: 1 })).toEqual({
      released: true,
    });
    expect(await client.getLock(instance, "schedule:nightly")).toEqual({ held: false });
    expect(await client.acquireLock(instance, "schedule:nightly", { owner: "b", ttlMs: 60_000 })).toMatchObject({
      acquired: true,
      token: 2,
    });
  });

  it("lets a lock expire, and the old holder learns it lost the lock", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const old = await client.acquireLock(instance, "l", { owner: "old", ttlMs: 150 });
    if (!old.acquired) throw new Error("expected the lock");
    const next = await eventually(async () => {
      const attempt = await client.acquireLock(instance, "l", { owner: "new", ttlMs: 60_000 });
      return attempt.acquired ? attempt : undefined;
    });
    expect(next.token).toBeGreaterThan(old.token);
    expect(await client.renewLock(instance, "l", { owner: "old", token: old.token, ttlMs: 60_000 })).toMatchObject({
      renewed: false,
    });
    expect(await client.releaseLock(instance, "l", { owner: "old", token: old.token })).toEqual({ released: false });
    expect(await client.getLock(instance, "l")).toMatchObject({ held: true, owner: "new", token: next.token });
  });
});
