import { describe, expect, it } from "vitest";
import { matchesApprover } from "../../../eventing/catalog/approvers.ts";
import type { MessageReceived } from "../../../eventing/catalog/index.ts";
import { fitHistory } from "../../../functions/agent/loop/context.ts";
import { KeyedQueue } from "../../../functions/agent/loop/keyed-queue.ts";
import { sessionKeyFor } from "../../../functions/agent/loop/session-key.ts";
import { ToolCallAssembler } from "../../../functions/agent/providers/openai-tool-calls.ts";
import { approverEntries, mayApprove } from "../../../functions/agent/run/approvers.ts";
import { isQuietHeartbeat } from "../../../functions/agent/run/heartbeat.ts";
import { MAX_RESULT_CHARS, successResult } from "../../../functions/agent/run/results.ts";
import { modelToolName } from "../../../functions/agent/tools/catalog.ts";

describe("heartbeat acknowledgement", () => {
  it.each([
    ["HEARTBEAT_OK", true],
    ["  HEARTBEAT_OK.  ", true],
    ["All quiet. HEARTBEAT_OK", true],
    ["HEARTBEAT_OK but disk /var is 97% full and the backup job failed twice; " + "x".repeat(300), false],
    ["The backup failed.", false],
    ["heartbeat_ok", false],
  ])("%j -> quiet %s", (text, quiet) => {
    expect(isQuietHeartbeat(text, "HEARTBEAT_OK", 300)).toBe(quiet);
  });
});

describe("approvers", () => {
  const alice = { channel: "slack" as const, id: "U1", workspace: "T1", person: "alice" };
  it("matches person, channel identity and workspace-qualified entries exactly", () => {
    expect(matchesApprover("person:alice", alice)).toBe(true);
    expect(matchesApprover("slack:U1", alice)).toBe(true);
    expect(matchesApprover("slack:T1/U1", alice)).toBe(true);
    expect(matchesApprover("slack:T2/U1", alice)).toBe(false);
    expect(matchesApprover("telegram:U1", alice)).toBe(false);
    expect(matchesApprover("person:ali", alice)).toBe(false);
    expect(matchesApprover("U1", alice)).toBe(false);
  });
  it("lets only the requester approve when no approvers are named, and nobody when there is no requester", () => {
    expect(mayApprove(alice, undefined, { channel: "telegram", id: "99", person: "alice" })).toBe(true);
    expect(mayApprove({ channel: "slack", id: "U2" }, undefined, alice)).toBe(false);
    expect(mayApprove(alice, undefined, undefined)).toBe(false);
    expect(mayApprove(alice, [], alice)).toBe(false);
  });
  it("names the requester as entries: their person and their platform identity, workspace-qualified", () => {
    expect(approverEntries(undefined, alice)).toEqual(["person:alice", "slack:T1/U1"]);
    expect(approverEntries(undefined, { channel: "http", id: "ci" })).toEqual(["http:ci"]);
    expect(approverEntries(["slack:U9"], alice)).toEqual(["slack:U9"]);
    expect(approverEntries(undefined, undefined)).toEqual([]);
  });
});

describe("session keys", () => {
  const message = (overrides: Partial<MessageReceived> = {}): MessageReceived => ({
    instance: "ops",
    channel: "slack",
    messageId: "m1",
    conversation: "C 1/x",
    thread: "171.5",
    sender: { channel: "slack", id: "U 1", workspace: "T1" },
    text: "hi",
    attachments: [],
    replyTo: { channel: "slack", conversation: "C1" },
    receivedAt: new Date().toISOString(),
    ...overrides,
  });
  it("follows the scope and stays printable ASCII without spaces", () => {
    expect(sessionKeyFor("main", message())).toBe("main");
    expect(sessionKeyFor("channel-sender", message())).toBe("slack:T1:U%201");
    expect(sessionKeyFor("thread", message())).toBe("slack:C%201%2Fx:171.5");
    expect(sessionKeyFor("sender", message())).toBe("slack:T1:U%201");
    expect(sessionKeyFor("sender", message({ sender: { channel: "slack", id: "U1", person: "alice smith" } }))).toBe(
      "person:alice%20smith",
    );
    for (const scope of ["main", "sender", "channel-sender", "thread"] as const) {
      expect(sessionKeyFor(scope, message({ conversation: "ü\u0000 é" }))).toMatch(/^[\x21-\x7e]+$/);
    }
  });
});

describe("tool results for the model", () => {
  it("cuts an oversized result and says so", () => {
    const result = successResult("http.get", { body: "x".repeat(100_000) });
    expect(result.content.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
    expect(JSON.parse(result.content)).toMatchObject({ untrusted: true, truncated: true, source: "tool:http.get" });
  });
});

describe("model-facing tool names", () => {
  it("stays within 64 characters and unique for long names", () => {
    const a = modelToolName("a".repeat(40), `${"t".repeat(60)}1`);
    const b = modelToolName("a".repeat(40), `${"t".repeat(60)}2`);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(a).not.toBe(b);
  });
});

describe("streamed tool-call assembly", () => {
  it("splits calls that reuse index 0 with new ids, and keeps fragments of one call together", () => {
    const assembler = new ToolCallAssembler();
    assembler.add({ index: 0, id: "a", function: { name: "f", arguments: '{"x"' } });
    assembler.add({ index: 0, function: { arguments: ":1}" } });
    assembler.add({ index: 0, id: "b", function: { name: "g", arguments: "{}" } });
    assembler.add({ function: { name: "h", arguments: { y: 2 } } });
    expect(assembler.finish()).toEqual([
      { id: "a", name: "f", arguments: '{"x":1}' },
      { id: "b", name: "g", arguments: "{}" },
      { id: "call_2", name: "h", arguments: '{"y":2}' },
    ]);
  });
});

describe("history fitting", () => {
  it("keeps the newest turns that fit and never starts with an assistant turn", () => {
    const turns = [
      { id: "1", role: "user" as const, content: "a".repeat(400) },
      { id: "2", role: "assistant" as const, content: "b".repeat(40) },
      { id: "3", role: "user" as const, content: "c".repeat(40) },
      { id: "4", role: "assistant" as const, content: "d".repeat(40) },
    ];
    expect(fitHistory(turns, 1000).map((m) => m.content[0])).toEqual(["a", "b", "c", "d"]);
    expect(fitHistory(turns, 40).map((m) => m.content[0])).toEqual(["c", "d"]);
    expect(fitHistory(turns, 20)).toEqual([]);
  });
});

describe("keyed queue", () => {
  it("runs tasks of one key one at a time, in order, and other keys alongside", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = queue.run("r1", async () => {
      log.push("r1:a start");
      await gate;
      log.push("r1:a end");
    });
    const second = queue.run("r1", async () => {
      log.push("r1:b");
    });
    await queue.run("r2", async () => {
      log.push("r2");
    });
    expect(log).toEqual(["r1:a start", "r2"]);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(["r1:a start", "r2", "r1:a end", "r1:b"]);
    await expect(queue.run("r1", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await queue.run("r1", async () => "still works")).toBe("still works");
  });
});
