import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryError } from "../../../clients/memory/client.ts";
import { ErrorBody } from "../../../clients/memory/contract/errors.ts";
import { type OwnRedis, ownRedis } from "../../support/redis-server.ts";
import { eventually, freshInstance, instanceScope, type MemoryHarness, startMemory } from "./support/harness.ts";

/** Longest a request may take while Redis is gone before the test calls it hanging (a safety net, not a measurement). */
const HANG = 3_000;

describe("durability and failure on a Redis of the test's own (AOF, appendfsync always)", () => {
  let redis: OwnRedis;
  let h: MemoryHarness;

  beforeAll(async () => {
    redis = await ownRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    h = await startMemory({ KNCLAW_REDIS_URL: redis.url, KNCLAW_MEMORY_REDIS_TIMEOUT_MS: "300" });
  });

  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  const ready = async () => (await h.raw("/readyz")).status === 200;

  it("keeps every acknowledged write across kill -9 and restart, answering 503 while Redis is down", async () => {
    const instance = freshInstance();
    const scope = instanceScope(instance);
    const client = h.client(scope, { retries: 0 });

    await client.appendMessages(instance, "main", {
      messages: [
        { id: "m1", role: "user", content: "remember the milk" },
        { id: "m2", role: "assistant", content: "noted" },
      ],
    });
    const { run } = await client.createRun(instance, { id: `durable-${instance}`, state: { step: 0 } });
    await client.updateRun(instance, run.id, { expectedVersion: 1, status: "running", state: { step: 1 } });
    const cas = await client.updateRun(instance, run.id, { expectedVersion: 2, state: { step: 2 } });
    await client.consumeBudget(instance, "calls", { amount: 7, limit: 10 });
    await client.dedup({ instance }, { key: "evt-1", ttlMs: 3_600_000 });
    await client.addNote(instance, { id: "milk", text: "The user buys oat milk" });
    const lock = await client.acquireLock(instance, "nightly", { owner: "a", ttlMs: 60_000 });
    if (!lock.acquired) throw new Error("expected the lock");
    await client.releaseLock(instance, "nightly", { owner: "a", token: lock.token });
    const auditIds = await client.appendAudit(instance, [{ type: "run.started", runId: run.id }]);
    const pairing = await h.client({ kind: "channel" }).requestPairing(instance, { channel: "slack", sender: "U7" });
    if (pairing.status !== "pending") throw new Error("expected a pending pairing");
    await h.client({ kind: "operator" }).approvePairing(instance, pairing.code);

    await redis.kill9();

    const down = await h.raw(`/v1/instances/${instance}/sessions/main/messages`, {
      scope,
      signal: AbortSignal.timeout(HANG),
    });
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("1");
    expect(ErrorBody.parse(await down.json()).error.code).toBe("unavailable");
    const write = await h.raw(`/v1/instances/${instance}/runs/${run.id}`, {
      method: "PATCH",
      scope,
      json: { expectedVersion: 3, state: { step: 3 } },
      signal: AbortSignal.timeout(HANG),
    });
    expect(write.status).toBe(503);
    expect((await h.raw("/readyz", { signal: AbortSignal.timeout(HANG) })).status).toBe(503);
    expect((await h.raw("/healthz")).status).toBe(200);
    await expect(client.readSession(instance, "main")).rejects.toMatchObject({ status: 503, code: "unavailable" });

    await redis.start();
    await eventually(ready);

    const window = await client.readSession(instance, "main");
    expect(window.messages.map((m) => [m.id, m.content])).toEqual([
      ["m1", "remember the milk"],
      ["m2", "noted"],
    ]);
    // The restarted Redis lost its script cache; an append answering its window still works (and is not doubled).
    const appended = await client.appendMessages(instance, "main", {
      messages: [{ id: "m3", role: "user", content: "and eggs" }],
      window: { last: 2 },
    });
    expect(appended).toMatchObject({ appended: 1, total: 3 });
    expect(appended.window?.messages.map((m) => m.id)).toEqual(["m2", "m3"]);
    expect(await client.getRun(instance, run.id)).toEqual(cas);
    expect(await client.consumeBudget(instance, "calls", { amount: 4, limit: 10 })).toMatchObject({
      allowed: false,
      used: 7,
    });
    expect((await client.dedup({ instance }, { key: "evt-1", ttlMs: 3_600_000 })).firstSeen).toBe(false);
    expect((await client.searchNotes(instance, { query: "milk" })).map((r) => r.note.id)).toEqual(["milk"]);
    const relock = await client.acquireLock(instance, "nightly", { owner: "b", ttlMs: 60_000 });
    expect(relock).toMatchObject({ acquired: true, token: lock.token + 1 });
    expect((await client.readAudit(instance)).entries.map((e) => e.id)).toEqual(auditIds);
    expect(await h.client({ kind: "channel" }).isApproved(instance, { channel: "slack", sender: "U7" })).toBe(true);
    // Writes work again, and the CAS version carried over.
    expect(await client.updateRun(instance, run.id, { expectedVersion: 3, state: { step: 3 } })).toMatchObject({
      version: 4,
    });
  });

  it("answers 503 when Redis stops answering mid-connection, and carries on when it resumes", async () => {
    await eventually(ready);
    const instance = freshInstance();
    const client = h.client(instanceScope(instance), { retries: 0 });
    await client.appendMessages(instance, "s", { messages: [{ id: "1", role: "user", content: "hi" }] });
    redis.pause();
    try {
      const stalled = await h.raw(`/v1/instances/${instance}/sessions/s/messages`, {
        scope: instanceScope(instance),
        signal: AbortSignal.timeout(HANG),
      });
      expect(stalled.status).toBe(503);
    } finally {
      redis.resume();
    }
    await eventually(ready);
    expect((await client.readSession(instance, "s")).messages.map((m) => m.id)).toEqual(["1"]);
  });

  it("lets a retrying client ride out an outage without applying its write twice", async () => {
    await eventually(ready);
    const instance = freshInstance();
    let sawUnavailable!: () => void;
    const unavailable = new Promise<void>((resolve) => {
      sawUnavailable = resolve;
    });
    const patient = h.client(instanceScope(instance), {
      retries: 40,
      retryDelayMs: 50,
      waitOutRetryAfter: true,
      fetch: async (request) => {
        const response = await fetch(request);
        if (response.status === 503) sawUnavailable();
        return response;
      },
    });
    await patient.consumeBudget(instance, "b", { amount: 1, limit: 5 });
    await redis.kill9();
    const pending = patient.consumeBudget(instance, "b", { amount: 2, limit: 5 });
    // Once the call has failed at least once (and is retrying), bring Redis back underneath it.
    await unavailable;
    await expect(h.client(instanceScope(instance), { retries: 0 }).getLock(instance, "x")).rejects.toBeInstanceOf(
      MemoryError,
    );
    await redis.start();
    expect(await pending).toMatchObject({ allowed: true, used: 3 });
    expect(await patient.consumeBudget(instance, "b", { amount: 0, limit: 5 })).toMatchObject({ used: 3 });
  });
});
