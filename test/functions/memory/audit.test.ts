import { describe, expect, it } from "vitest";
import { ReadAuditResponse } from "../../../clients/memory/contract/audit.ts";
import { freshInstance, instanceScope } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

describe.each(TARGETS)("audit on $name", (target) => {
  const suite = useTarget(target);

  it("appends entries with increasing stream ids and reads them by range, both ways", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const ids: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      ids.push(
        ...(await client.appendAudit(instance, [
          { type: "tool.requested", runId: "r1", data: { batch, n: 0 } },
          { type: "tool.completed", runId: "r1", data: { batch, n: 1 } },
        ])),
      );
    }
    expect(ids).toHaveLength(8);
    const numeric = ids.map((id) => id.split("-").map(BigInt) as [bigint, bigint]);
    for (let i = 1; i < numeric.length; i++) {
      const [ms, seq] = numeric[i]!;
      const [pms, pseq] = numeric[i - 1]!;
      expect(ms > pms || (ms === pms && seq > pseq)).toBe(true);
    }
    const all = ReadAuditResponse.parse(await client.readAudit(instance));
    expect(all.entries.map((e) => e.id)).toEqual(ids);
    expect(all.entries[0]).toMatchObject({
      type: "tool.requested",
      runId: "r1",
      by: `instance:${instance}`,
      data: { batch: 0, n: 0 },
    });
    expect(all.entries[0]!.at).toBe(Number(ids[0]!.split("-")[0]));
    expect(all.next).toBeNull();
    // Pages of 3, resuming after the last id seen (the way an SSE client resumes with Last-Event-ID).
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await client.readAudit(instance, { limit: 3, ...(after ? { after } : {}) });
      paged.push(...page.entries.map((e) => e.id));
      if (!page.next) break;
      after = page.next;
    }
    expect(paged).toEqual(ids);
    const newest = await client.readAudit(instance, { order: "desc", limit: 2 });
    expect(newest.entries.map((e) => e.id)).toEqual([ids[7], ids[6]]);
    const older = await client.readAudit(instance, { order: "desc", limit: 10, before: ids[6] });
    expect(older.entries.map((e) => e.id)).toEqual(ids.slice(0, 6).reverse());
    const between = await client.readAudit(instance, { after: ids[1], before: ids[4] });
    expect(between.entries.map((e) => e.id)).toEqual([ids[2], ids[3]]);
  });

  it("appends a retried batch once", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const first = await client.appendAudit(instance, [{ type: "run.started" }], "batch-1");
    const retry = await client.appendAudit(instance, [{ type: "run.started" }], "batch-1");
    expect(retry).toEqual(first);
    expect((await client.readAudit(instance)).entries).toHaveLength(1);
  });

  it("lets the gateway read but not write, and records who wrote", async () => {
    const { h } = suite();
    const instance = freshInstance();
    await h
      .client({ kind: "operator", name: "console" })
      .appendAudit(instance, [{ type: "policy.changed", data: { by: "x" } }]);
    const gateway = h.client({ kind: "gateway" });
    const read = await gateway.readAudit(instance);
    expect(read.entries[0]).toMatchObject({ by: "operator:console", data: { by: "x" } });
    await expect(gateway.appendAudit(instance, [{ type: "x" }])).rejects.toMatchObject({ status: 403 });
    await expect(h.client({ kind: "channel" }).readAudit(instance)).rejects.toMatchObject({ status: 403 });
    const badId = await h.raw(`/v1/instances/${instance}/audit?after=12abc`, { scope: instanceScope(instance) });
    expect(badId.status).toBe(400);
    const badType = await h.raw(`/v1/instances/${instance}/audit`, {
      method: "POST",
      scope: instanceScope(instance),
      json: { entries: [{ type: "Has Spaces" }] },
    });
    expect(badType.status).toBe(400);
  });
});
