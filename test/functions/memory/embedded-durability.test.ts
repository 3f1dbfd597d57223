import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { type MemoryScope, mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { freePort } from "../../support/free-port.ts";
import { eventually, SECRET } from "./support/harness.ts";

/**
 * The embedded store in a file, over real processes: the memory service (functions/memory/main.ts) as `knclaw dev`
 * runs it, killed with SIGKILL right after its writes were answered and started again on the same file.
 */
const MAIN = new URL("../../../functions/memory/main.ts", import.meta.url).pathname;

interface ServiceProcess {
  url: string;
  child: ChildProcess;
  client(scope: MemoryScope): MemoryClient;
  kill9(): Promise<void>;
}

async function startService(path: string): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
      KNCLAW_MEMORY_BACKEND: "embedded",
      KNCLAW_MEMORY_EMBEDDED_PATH: path,
      KNCLAW_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error("the memory service exited during start");
    return fetch(`${url}/readyz`).then(
      (answer) => answer.ok,
      () => false,
    );
  }, 30_000);
  return {
    url,
    child,
    client: (scope) => new MemoryClient({ baseUrl: url, token: mintMemoryToken(SECRET, scope), retries: 0 }),
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("embedded store in a file: kill -9 and restart on the same file", () => {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-memory-durable-"));
  // A directory that does not exist yet: the service creates it, private.
  const path = join(dir, "state", "memory.sqlite");
  const running: ServiceProcess[] = [];
  afterAll(async () => {
    for (const service of running) await service.kill9();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every answered write of every area, and goes on from where it was", async () => {
    const first = await startService(path);
    running.push(first);
    const instance = "durable";
    const operator = first.client({ kind: "operator" });
    const channel = first.client({ kind: "channel" });
    const deadletter = first.client({ kind: "deadletter" });

    // Sessions: messages, a compaction into a summary, and ids remembered past it.
    await operator.appendMessages(instance, "main", {
      messages: [
        { id: "m1", role: "user", content: "remember the milk" },
        { id: "m2", role: "assistant", content: "noted" },
        { id: "m3", role: "user", content: "and the eggs" },
      ],
    });
    await operator.compactSession(instance, "main", { throughId: "m1", summary: { content: "the user shops" } });
    // Runs: created, compare-and-set twice, one finished; a blob beside the running one.
    const { run } = await operator.createRun(instance, { id: "run-1", state: { step: 0 } });
    await operator.updateRun(instance, run.id, { expectedVersion: 1, status: "running", state: { step: 1 } });
    const running2 = await operator.updateRun(instance, run.id, { expectedVersion: 2, state: { step: 2 } });
    const finished = await operator.createRun(instance, { id: "run-2", status: "completed", state: { done: true } });
    const blob = await operator.putRunBlob(instance, run.id, "a large tool result");
    // Coordination: a budget, a dedup claim, a value, a lock's fencing token.
    await operator.consumeBudget(instance, "calls", { amount: 7, limit: 10 });
    await operator.consumeBudget(instance, "tokens", { amount: 300, limit: 1000, windowMs: 3_600_000 });
    await operator.dedup({ instance }, { key: "evt-1", ttlMs: 3_600_000 });
    await operator.putValue({ namespace: "slack" }, "cursor", "42", 3_600_000);
    const lock = await operator.acquireLock(instance, "nightly", { owner: "a", ttlMs: 60_000 });
    if (!lock.acquired) throw new Error("expected the lock");
    // Notes and their index; audit; people: a link, a pairing approved, a pending one.
    await operator.addNote(instance, { id: "milk", text: "The user buys oat milk" });
    const auditIds = await operator.appendAudit(instance, [{ type: "run.started", runId: run.id }]);
    await operator.linkIdentities(instance, [
      { channel: "slack", sender: "U1" },
      { channel: "telegram", sender: "42" },
    ]);
    const approved = await channel.requestPairing(instance, { channel: "slack", sender: "U7" });
    if (approved.status !== "pending") throw new Error("expected a pending pairing");
    await operator.approvePairing(instance, approved.code);
    const pending = await channel.requestPairing(instance, { channel: "slack", sender: "U8" });
    if (pending.status !== "pending") throw new Error("expected a pending pairing");
    // A dead letter.
    const dead = await deadletter.storeDeadLetter("deadletter", {
      attributes: { specversion: "1.0", id: "evt-9", source: "/test", type: "dev.knclaw.run.requested" },
      dataBase64: Buffer.from('{"task":"x"}').toString("base64"),
      error: { destination: "http://agent", code: 503, data: null, text: null },
      maxEntries: 100,
      maxAgeMs: 3_600_000,
    });

    // The store's files are the owner's alone.
    expect(mode(join(dir, "state"))).toBe(0o700);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);

    await first.kill9();
    const second = await startService(path);
    running.push(second);
    const again = second.client({ kind: "operator" });

    const window = await again.readSession(instance, "main");
    expect(window.summary?.content).toBe("the user shops");
    expect(window.messages.map((m) => [m.id, m.content])).toEqual([
      ["m2", "noted"],
      ["m3", "and the eggs"],
    ]);
    // An id compacted before the crash is still known: a replayed append does not bring it back.
    expect(
      await again.appendMessages(instance, "main", {
        messages: [{ id: "m1", role: "user", content: "remember the milk" }],
      }),
    ).toMatchObject({ appended: 0, duplicates: ["m1"], total: 2 });
    expect(await again.getRun(instance, run.id)).toEqual(running2);
    expect(await again.getRun(instance, "run-2")).toEqual(finished.run);
    expect(await again.getRunBlob(instance, run.id, blob.sha256)).toBe("a large tool result");
    expect(await again.consumeBudget(instance, "calls", { amount: 4, limit: 10 })).toMatchObject({
      allowed: false,
      used: 7,
    });
    expect(
      await again.consumeBudget(instance, "tokens", { amount: 800, limit: 1000, windowMs: 3_600_000 }),
    ).toMatchObject({ allowed: false, used: 300 });
    expect((await again.dedup({ instance }, { key: "evt-1", ttlMs: 3_600_000 })).firstSeen).toBe(false);
    expect(await again.getValue({ namespace: "slack" }, "cursor")).toMatchObject({ value: "42" });
    expect(await again.getLock(instance, "nightly")).toMatchObject({ held: true, owner: "a", token: lock.token });
    expect((await again.searchNotes(instance, { query: "milk" })).map((r) => r.note.id)).toEqual(["milk"]);
    expect((await again.readAudit(instance)).entries.map((e) => e.id)).toEqual(auditIds);
    expect((await again.getPerson(instance, { channel: "telegram", sender: "42" })).identities).toHaveLength(2);
    expect(await second.client({ kind: "channel" }).isApproved(instance, { channel: "slack", sender: "U7" })).toBe(
      true,
    );
    expect((await again.listPairing(instance)).map((p) => p.code)).toEqual([pending.code]);
    expect(
      (await second.client({ kind: "deadletter" }).getDeadLetter("deadletter", dead.deadLetter.id))?.dataBase64,
    ).toBe(Buffer.from('{"task":"x"}').toString("base64"));

    // It goes on from there: versions, fencing tokens and audit ids continue, never restart.
    expect(await again.updateRun(instance, run.id, { expectedVersion: 3, status: "completed" })).toMatchObject({
      version: 4,
    });
    await again.releaseLock(instance, "nightly", { owner: "a", token: lock.token });
    expect(await again.acquireLock(instance, "nightly", { owner: "b", ttlMs: 60_000 })).toMatchObject({
      acquired: true,
      token: lock.token + 1,
    });
    const [next] = await again.appendAudit(instance, [{ type: "run.completed", runId: run.id }]);
    expect(next! > auditIds[0]!).toBe(true);
  }, 180_000); // a safety net: two process starts on a loaded 2-core machine
});
