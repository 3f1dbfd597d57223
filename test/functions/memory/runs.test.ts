import { describe, expect, it } from "vitest";
import { CreateRunResponse, ListRunsResponse, Run } from "../../../clients/memory/contract/runs.ts";
import { freshInstance, instanceScope, OPERATOR } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

describe.each(TARGETS)("runs on $name", (target) => {
  const suite = useTarget(target);

  it("creates a run at version 1, and answers the existing run for a known id", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const id = `run-${instance}`;
    const created = CreateRunResponse.parse(await client.createRun(instance, { id, state: { step: 0 } }));
    expect(created.created).toBe(true);
    expect(created.run).toEqual({
      id,
      instance,
      status: "queued",
      version: 1,
      state: { step: 0 },
      createdAt: created.run.createdAt,
      updatedAt: created.run.createdAt,
      expiresAt: null,
    });
    expect(created.run.createdAt).toBeLessThanOrEqual(clock.now());
    const again = await client.createRun(instance, { id, state: { step: 99 }, status: "running" });
    expect(again).toEqual({ run: created.run, created: false });
    expect(await client.getRun(instance, id)).toEqual(created.run);
    expect(await client.getRun(instance, "missing")).toBeUndefined();
    const generated = await client.createRun(instance);
    expect(generated.run.id).toMatch(/^run_/);
  });

  it("updates with compare-and-set: a stale version gets 412 with the current version", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const { run } = await client.createRun(instance, { state: { step: 0 } });
    const updated = await client.updateRun(instance, run.id, {
      expectedVersion: 1,
      status: "running",
      state: { step: 1 },
    });
    expect(Run.parse(updated)).toMatchObject({ version: 2, status: "running", state: { step: 1 } });
    expect(updated.updatedAt).toBeGreaterThanOrEqual(run.updatedAt);
    await expect(client.updateRun(instance, run.id, { expectedVersion: 1, state: { step: 9 } })).rejects.toMatchObject({
      status: 412,
      code: "version_mismatch",
      currentVersion: 2,
    });
    // Fields not given are kept.
    const statusOnly = await client.updateRun(instance, run.id, { expectedVersion: 2, status: "waiting" });
    expect(statusOnly).toMatchObject({ version: 3, status: "waiting", state: { step: 1 } });
    await expect(client.updateRun(instance, "missing", { expectedVersion: 1 })).rejects.toMatchObject({ status: 404 });
  });

  it("answers a retried update (same updateId) with its result instead of a conflict", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const { run } = await client.createRun(instance);
    const first = await client.updateRun(instance, run.id, { expectedVersion: 1, state: { n: 1 }, updateId: "step-1" });
    const replay = await client.updateRun(instance, run.id, {
      expectedVersion: 1,
      state: { n: 1 },
      updateId: "step-1",
    });
    expect(replay).toEqual(first);
    await expect(
      client.updateRun(instance, run.id, { expectedVersion: 1, state: { n: 1 }, updateId: "other" }),
    ).rejects.toMatchObject({ status: 412, currentVersion: 2 });
    await client.updateRun(instance, run.id, { expectedVersion: 2, state: { n: 2 }, updateId: "step-2" });
    // Only the latest update can be replayed: an older updateId is a conflict again.
    await expect(
      client.updateRun(instance, run.id, { expectedVersion: 1, state: { n: 1 }, updateId: "step-1" }),
    ).rejects.toMatchObject({ status: 412, currentVersion: 3 });
  });

  it("finds a run by id across instances for the gateway; instance tokens see their own only", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const other = freshInstance();
    const { run } = await h.client(instanceScope(instance)).createRun(instance, { id: `x-${instance}` });
    expect(await h.client({ kind: "gateway" }).findRun(run.id)).toEqual(run);
    expect(await h.client(OPERATOR).findRun(run.id)).toEqual(run);
    expect(await h.client(instanceScope(instance)).findRun(run.id)).toEqual(run);
    await expect(h.client(instanceScope(other)).findRun(run.id)).rejects.toMatchObject({ status: 403 });
    await expect(h.client({ kind: "channel" }).findRun(run.id)).rejects.toMatchObject({ status: 403 });
    expect(await h.client({ kind: "gateway" }).findRun("no-such-run")).toBeUndefined();
    // A run id belongs to one instance.
    await expect(h.client(instanceScope(other)).createRun(other, { id: run.id })).rejects.toMatchObject({
      status: 409,
      code: "conflict",
    });
    // The gateway reads runs but does not write them.
    await expect(
      h.client({ kind: "gateway" }).updateRun(instance, run.id, { expectedVersion: 1 }),
    ).rejects.toMatchObject({
      status: 403,
    });
    expect(await h.client({ kind: "gateway" }).getRun(instance, run.id)).toEqual(run);
  });

  it("lists runs by instance and status, newest first, with cursor pagination", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(5);
      const { run } = await client.createRun(instance, { id: `r${i}-${instance}` });
      ids.push(run.id);
      if (i % 2 === 0) await client.updateRun(instance, run.id, { expectedVersion: 1, status: "running" });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = ListRunsResponse.parse(await client.listRuns(instance, { limit: 3, ...(cursor ? { cursor } : {}) }));
      expect(page.runs.length).toBeLessThanOrEqual(3);
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const running = await client.listRuns(instance, { status: "running" });
    expect(running.runs.map((r) => r.id)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
    expect(running.runs.every((r) => r.status === "running")).toBe(true);
    const queued = await client.listRuns(instance, { status: "queued", limit: 2 });
    expect(queued.runs.map((r) => r.id)).toEqual([ids[5], ids[3]]);
    const rest = await client.listRuns(instance, { status: "queued", limit: 2, cursor: queued.nextCursor! });
    expect(rest).toMatchObject({ runs: [{ id: ids[1] }], nextCursor: null });
    await expect(client.listRuns(instance, { cursor: "not-a-cursor" })).rejects.toMatchObject({ status: 400 });
    await expect(h.client({ kind: "gateway" }).listRuns(instance)).resolves.toMatchObject({ runs: expect.any(Array) });
  });

  it("expires finished runs after their retention, and keeps unfinished ones", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const { run: done } = await client.createRun(instance, { id: `done-${instance}` });
    const { run: live } = await client.createRun(instance, { id: `live-${instance}` });
    const finished = await client.updateRun(instance, done.id, {
      expectedVersion: 1,
      status: "completed",
      retentionMs: 60_000,
    });
    expect(finished.expiresAt).toBe(finished.updatedAt + 60_000);
    expect((await client.listRuns(instance, { status: "completed" })).runs.map((r) => r.id)).toEqual([done.id]);
    clock.advance(61_000);
    expect(await client.getRun(instance, done.id)).toBeUndefined();
    expect(await h.client({ kind: "gateway" }).findRun(done.id)).toBeUndefined();
    expect((await client.listRuns(instance)).runs.map((r) => r.id)).toEqual([live.id]);
    expect((await client.listRuns(instance, { status: "completed" })).runs).toEqual([]);
    await expect(client.updateRun(instance, done.id, { expectedVersion: 2 })).rejects.toMatchObject({ status: 404 });
    // The id is free again within its instance.
    expect((await client.createRun(instance, { id: done.id })).created).toBe(true);
    // Leaving a finished status clears the expiry.
    const failed = await client.updateRun(instance, live.id, {
      expectedVersion: 1,
      status: "failed",
      retentionMs: 1000,
    });
    expect(failed.expiresAt).not.toBeNull();
    const retried = await client.updateRun(instance, live.id, { expectedVersion: 2, status: "queued" });
    expect(retried.expiresAt).toBeNull();
    clock.advance(5_000);
    expect(await client.getRun(instance, live.id)).toMatchObject({ version: 3, status: "queued" });
  });

  it("validates run requests", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const scope = instanceScope(instance);
    const bad = await h.raw(`/v1/instances/${instance}/runs`, {
      method: "POST",
      scope,
      json: { id: "has space", status: "done" },
    });
    expect(bad.status).toBe(400);
    const issues = ((await bad.json()) as { error: { issues: Array<{ path: string }> } }).error.issues.map(
      (i) => i.path,
    );
    expect(issues).toEqual(expect.arrayContaining(["id", "status"]));
    const noVersion = await h.raw(`/v1/instances/${instance}/runs/abc`, {
      method: "PATCH",
      scope,
      json: { state: {} },
    });
    expect(noVersion.status).toBe(400);
    const badId = await h.raw(`/v1/instances/${instance}/runs/${encodeURIComponent("a b")}`, { scope });
    expect(badId.status).toBe(400);
  });
});
