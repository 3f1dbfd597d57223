import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { deleteKeys, freshInstance, instanceScope, SHARED_REDIS, uniquePrefix } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe.each(TARGETS)("run blobs on $name", (target) => {
  const suite = useTarget(target);

  it("stores content under its sha256 beside a run, written before the run exists, idempotently", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const runId = `r-${instance}`;
    const content = `a large tool result ${"x".repeat(20_000)} ✓`;
    // The agent writes a step's blobs before the commit that creates the run.
    const put = await client.putRunBlob(instance, runId, content);
    expect(put).toEqual({ sha256: sha256(content), bytes: Buffer.byteLength(content) });
    expect(await client.putRunBlob(instance, runId, content)).toEqual(put);
    await client.createRun(instance, { id: runId, status: "running" });
    expect(await client.getRunBlob(instance, runId, put.sha256)).toBe(content);
    expect(await client.getRunBlob(instance, runId, sha256("other"))).toBeUndefined();
    // Scoped to the run and the instance.
    expect(await client.getRunBlob(instance, `other-${runId}`, put.sha256)).toBeUndefined();
    const stranger = freshInstance();
    await expect(h.client(instanceScope(stranger)).getRunBlob(instance, runId, put.sha256)).rejects.toMatchObject({
      status: 403,
    });
  });

  it("keeps blobs while the run is active and drops them with the finished run after its retention", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const { run } = await client.createRun(instance, { id: `r-${instance}`, status: "running" });
    const { sha256: digest } = await client.putRunBlob(instance, run.id, "kept while the run runs");
    clock.advance(8 * 86_400_000);
    expect(await client.getRunBlob(instance, run.id, digest)).toBe("kept while the run runs");
    await client.updateRun(instance, run.id, { expectedVersion: 1, status: "completed", retentionMs: 60_000 });
    expect(await client.getRunBlob(instance, run.id, digest)).toBe("kept while the run runs");
    clock.advance(61_000);
    expect(await client.getRunBlob(instance, run.id, digest)).toBeUndefined();
  });

  it("refuses a name that is not the content's digest, and answers 404 for a blob it does not have", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const scope = instanceScope(instance);
    const wrong = await h.raw(`/v1/instances/${instance}/runs/r1/blobs/${sha256("something else")}`, {
      method: "PUT",
      scope,
      json: { content: "this" },
    });
    expect(wrong.status).toBe(400);
    const malformed = await h.raw(`/v1/instances/${instance}/runs/r1/blobs/not-a-digest`, {
      method: "PUT",
      scope,
      json: { content: "this" },
    });
    expect(malformed.status).toBe(400);
    const missing = await h.raw(`/v1/instances/${instance}/runs/r1/blobs/${sha256("none")}`, { scope });
    expect(missing.status).toBe(404);
  });
});

describe("run blobs on Redis follow their run's key lifetime", () => {
  const prefix = uniquePrefix();
  const redisTarget = TARGETS.find((target) => target.name === "redis")!;
  const suite = useTarget(redisTarget, { KNCLAW_REDIS_KEY_PREFIX: prefix });
  const redis = new Redis(SHARED_REDIS);
  afterAll(async () => {
    await deleteKeys(SHARED_REDIS, prefix);
    redis.disconnect();
  });

  it("the run retention before the run exists, none while it runs, the run's expiry once finished, gone with it", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const runId = `r-${instance}`;
    const key = `${prefix}{i:${instance}}:rb:${runId}`;
    await client.putRunBlob(instance, runId, "written before the run");
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    await client.createRun(instance, { id: runId, status: "running" });
    expect(await redis.pttl(key)).toBe(-1);
    await client.putRunBlob(instance, runId, "written while it runs");
    expect(await redis.pttl(key)).toBe(-1);
    await client.updateRun(instance, runId, { expectedVersion: 1, status: "completed", retentionMs: 60_000 });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(60_000);
    // The same expiry as the run's own hash (up to the milliseconds between the two reads).
    expect(Math.abs(ttl - (await redis.pttl(`${prefix}{i:${instance}}:run:${runId}`)))).toBeLessThan(1000);
    clock.advance(61_000);
    await client.listRuns(instance);
    expect(await redis.exists(key)).toBe(0);
  });
});
