import { describe, expect, it } from "vitest";
import { MemoryError } from "../../../clients/memory/client.ts";
import { AppendMessagesResponse, SessionWindow } from "../../../clients/memory/contract/sessions.ts";
import { freshInstance, instanceScope, OPERATOR } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

const HOUR = 3_600_000;

function messages(from: number, to: number, tokens?: number) {
  const list = [];
  for (let i = from; i <= to; i++) {
    list.push({
      id: `m${i}`,
      role: "user" as const,
      content: `message ${i}`,
      ...(tokens === undefined ? {} : { tokens }),
    });
  }
  return list;
}

describe.each(TARGETS)("sessions on $name", (target) => {
  const suite = useTarget(target);

  it("appends in order and is idempotent by message id", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const first = await client.appendMessages(instance, "main", { messages: messages(1, 3) });
    expect(AppendMessagesResponse.parse(first)).toMatchObject({ appended: 3, duplicates: [], total: 3, generation: 0 });
    // A retried batch (and a duplicate inside one batch) is stored once.
    const retry = await client.appendMessages(instance, "main", {
      messages: [...messages(2, 4), { id: "m4", role: "assistant", content: "again" }],
    });
    expect(retry).toMatchObject({ appended: 1, duplicates: ["m2", "m3", "m4"], total: 4 });
    const window = SessionWindow.parse(await client.readSession(instance, "main"));
    expect(window.messages.map((m) => m.id)).toEqual(["m1", "m2", "m3", "m4"]);
    expect(window.messages[3]).toMatchObject({ role: "user", content: "message 4" });
    expect(window).toMatchObject({ total: 4, truncated: false, expired: false, summary: null });
  });

  it("reads the last N messages, 50 by default", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", { messages: messages(1, 60) });
    const lastThree = await client.readSession(instance, "s", { last: 3 });
    expect(lastThree.messages.map((m) => m.id)).toEqual(["m58", "m59", "m60"]);
    expect(lastThree).toMatchObject({ total: 60, truncated: true });
    const byDefault = await client.readSession(instance, "s");
    expect(byDefault.messages).toHaveLength(50);
    expect(byDefault.messages[0]!.id).toBe("m11");
    const none = await client.readSession(instance, "s", { last: 0 });
    expect(none.messages).toEqual([]);
  });

  it("reads the newest messages that fit a token budget, counting the summary first", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", {
      messages: [
        { id: "a", role: "user", content: "x", tokens: 5 },
        { id: "b", role: "assistant", content: "y", tokens: 30 },
        { id: "c", role: "user", content: "z", tokens: 10 },
        { id: "d", role: "assistant", content: "w", tokens: 10 },
      ],
    });
    const fit = await client.readSession(instance, "s", { maxTokens: 25 });
    expect(fit.messages.map((m) => m.id)).toEqual(["c", "d"]);
    // The window is contiguous: "a" would fit the remaining budget but "b" in between does not.
    const wide = await client.readSession(instance, "s", { maxTokens: 54 });
    expect(wide.messages.map((m) => m.id)).toEqual(["b", "c", "d"]);
    await client.compactSession(instance, "s", { throughId: "a", summary: { content: "sum", tokens: 12 } });
    const withSummary = await client.readSession(instance, "s", { maxTokens: 25 });
    expect(withSummary.summary?.content).toBe("sum");
    expect(withSummary.messages.map((m) => m.id)).toEqual(["d"]);
    const summaryTooBig = await client.readSession(instance, "s", { maxTokens: 11 });
    expect(summaryTooBig.summary).toBeNull();
    expect(summaryTooBig.messages.map((m) => m.id)).toEqual(["d"]);
    const both = await client.readSession(instance, "s", { maxTokens: 100, last: 1 });
    expect(both.messages.map((m) => m.id)).toEqual(["d"]);
  });

  it("estimates tokens when the caller gives none, and fills in the time", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const before = clock.now();
    await client.appendMessages(instance, "s", {
      messages: [
        { id: "e", role: "user", content: "a".repeat(40) },
        {
          id: "f",
          role: "assistant",
          content: "",
          toolCalls: [{ id: "t1", name: "search", arguments: '{"q":"tea"}' }],
        },
        { id: "g", role: "tool", content: "result", toolCallId: "t1", name: "search", at: 1234, meta: { k: [1, "v"] } },
      ],
    });
    const window = await client.readSession(instance, "s");
    expect(window.messages[0]).toMatchObject({ tokens: 10 });
    expect(window.messages[0]!.at).toBeGreaterThanOrEqual(before);
    expect(window.messages[1]).toMatchObject({
      tokens: 5,
      toolCalls: [{ id: "t1", name: "search", arguments: '{"q":"tea"}' }],
    });
    expect(window.messages[2]).toEqual({
      id: "g",
      role: "tool",
      content: "result",
      name: "search",
      toolCallId: "t1",
      meta: { k: [1, "v"] },
      tokens: 2,
      at: 1234,
    });
  });

  it("answers the window with the append when asked (one round trip)", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", { messages: messages(1, 5) });
    const answer = await client.appendMessages(instance, "s", { messages: messages(6, 6), window: { last: 2 } });
    expect(answer.window?.messages.map((m) => m.id)).toEqual(["m5", "m6"]);
    expect(answer.window).toMatchObject({ sessionKey: "s", generation: 0, total: 6, truncated: true });
  });

  it("trims to the newest messages, guarded by the generation", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", { messages: messages(1, 10) });
    expect(await client.trimSession(instance, "s", { keepLast: 4 })).toEqual({ generation: 0, removed: 6, total: 4 });
    expect((await client.readSession(instance, "s")).messages.map((m) => m.id)).toEqual(["m7", "m8", "m9", "m10"]);
    // Trimmed ids stay known: appending one again is still a duplicate.
    expect((await client.appendMessages(instance, "s", { messages: messages(1, 1) })).duplicates).toEqual(["m1"]);
    await expect(client.trimSession(instance, "s", { keepLast: 1, expectedGeneration: 3 })).rejects.toMatchObject({
      status: 412,
      code: "version_mismatch",
      currentVersion: 0,
    });
    expect(await client.trimSession(instance, "s", { keepLast: 0 })).toEqual({ generation: 0, removed: 4, total: 0 });
  });

  it("compacts a prefix into a summary atomically, and a repeated compaction changes nothing", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", { messages: messages(1, 6) });
    const compacted = await client.compactSession(instance, "s", {
      throughId: "m4",
      summary: { content: "the user counted to four" },
    });
    expect(compacted).toMatchObject({ generation: 0, removed: 4, total: 2, alreadyCompacted: false });
    expect(compacted.summary).toMatchObject({ content: "the user counted to four", throughId: "m4", tokens: 6 });
    const window = await client.readSession(instance, "s");
    expect(window.summary?.content).toBe("the user counted to four");
    expect(window.messages.map((m) => m.id)).toEqual(["m5", "m6"]);
    const again = await client.compactSession(instance, "s", { throughId: "m2", summary: { content: "older" } });
    expect(again).toMatchObject({ removed: 0, total: 2, alreadyCompacted: true });
    expect(again.summary?.content).toBe("the user counted to four");
    expect((await client.appendMessages(instance, "s", { messages: messages(3, 3) })).duplicates).toEqual(["m3"]);
    await expect(
      client.compactSession(instance, "s", { throughId: "nope", summary: { content: "x" } }),
    ).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(
      client.compactSession(instance, "s", { throughId: "m6", summary: { content: "x" }, expectedGeneration: 1 }),
    ).rejects.toMatchObject({ status: 412, currentVersion: 0 });
  });

  it("pages from the oldest message not yet compacted: within last and maxTokens, the summary whole", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    // m1..m40 at 10 tokens each, then one of 500 tokens, then m42..m50 at 10.
    await client.appendMessages(instance, "s", { messages: messages(1, 40, 10) });
    await client.appendMessages(instance, "s", { messages: messages(41, 41, 500) });
    await client.appendMessages(instance, "s", { messages: messages(42, 50, 10) });
    const first = SessionWindow.parse(await client.readSession(instance, "s", { from: "oldest", last: 5 }));
    expect(first.messages.map((m) => m.id)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(first).toMatchObject({ total: 50, truncated: true, summary: null });
    // A token budget counts from the oldest end, across Redis' batches of 32.
    const budgeted = await client.readSession(instance, "s", { from: "oldest", maxTokens: 355 });
    expect(budgeted.messages.map((m) => m.id)).toEqual(messages(1, 35).map((m) => m.id));
    const all = await client.readSession(instance, "s", { from: "oldest", last: 100 });
    expect(all.messages.map((m) => m.id)).toEqual(messages(1, 50).map((m) => m.id));
    expect(all.truncated).toBe(false);
    // Compacted messages are gone from the oldest end; the summary is answered whole, not counted.
    await client.compactSession(instance, "s", { throughId: "m40", summary: { content: "forty", tokens: 5_000 } });
    const next = await client.readSession(instance, "s", { from: "oldest", maxTokens: 100 });
    expect(next.summary).toMatchObject({ content: "forty", throughId: "m40" });
    // The oldest message comes even when it alone is over the budget, and nothing after it then.
    expect(next.messages.map((m) => m.id)).toEqual(["m41"]);
    expect(next).toMatchObject({ total: 10, truncated: true });
    await client.compactSession(instance, "s", { throughId: "m41", summary: { content: "forty-one" } });
    const rest = await client.readSession(instance, "s", { from: "oldest", maxTokens: 35 });
    expect(rest.messages.map((m) => m.id)).toEqual(["m42", "m43", "m44"]);
    expect((await client.readSession(instance, "s", { from: "oldest", last: 0 })).messages).toEqual([]);
    // The newest end is unchanged by the option's existence.
    const newest = await client.readSession(instance, "s", { last: 2 });
    expect(newest.messages.map((m) => m.id)).toEqual(["m49", "m50"]);
  });

  it("resets manually (/new) into a new generation, guarded against a retried reset", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.appendMessages(instance, "s", { messages: messages(1, 3) });
    expect(await client.resetSession(instance, "s", { expectedGeneration: 0 })).toEqual({ generation: 1 });
    await expect(client.resetSession(instance, "s", { expectedGeneration: 0 })).rejects.toMatchObject({
      status: 412,
      currentVersion: 1,
    });
    const window = await client.readSession(instance, "s");
    expect(window).toMatchObject({ generation: 1, total: 0, messages: [], summary: null });
    // A new generation forgets the old message ids.
    expect(await client.appendMessages(instance, "s", { messages: messages(1, 1) })).toMatchObject({
      appended: 1,
      generation: 1,
    });
  });

  it("resets after an idle timeout, decided atomically by the next append", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const reset = { idleMs: HOUR };
    await client.appendMessages(instance, "s", { messages: messages(1, 2), reset });
    expect(await client.readSession(instance, "s", { idleMs: HOUR })).toMatchObject({ expired: false, total: 2 });
    clock.advance(HOUR + 1000);
    const stale = await client.readSession(instance, "s", { idleMs: HOUR });
    expect(stale).toMatchObject({ expired: true, generation: 0, messages: [], total: 0 });
    // Without a policy the old messages are still there until the next append decides.
    expect((await client.readSession(instance, "s")).total).toBe(2);
    const appended = await client.appendMessages(instance, "s", { messages: messages(3, 3), reset });
    expect(appended).toMatchObject({ reset: true, generation: 1, appended: 1, total: 1 });
    const concurrent = await Promise.all(
      [4, 5, 6].map((i) => client.appendMessages(instance, "s", { messages: messages(i, i), reset })),
    );
    expect(concurrent.filter((a) => a.reset)).toHaveLength(0);
    expect((await client.readSession(instance, "s")).messages.map((m) => m.id).sort()).toEqual([
      "m3",
      "m4",
      "m5",
      "m6",
    ]);
  });

  it("resets daily at an hour in a time zone", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const timeZone = "Asia/Kolkata";
    const localHour = Number(
      new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", hourCycle: "h23" }).format(clock.now()),
    );
    // Two hours ahead: no boundary falls between the append and the first read.
    const daily = { hour: (localHour + 2) % 24, timeZone };
    await client.appendMessages(instance, "s", { messages: messages(1, 1), reset: { daily } });
    expect(await client.readSession(instance, "s", { dailyHour: daily.hour, timeZone })).toMatchObject({
      expired: false,
    });
    clock.advance(3 * HOUR);
    expect(await client.readSession(instance, "s", { dailyHour: daily.hour, timeZone })).toMatchObject({
      expired: true,
    });
    const appended = await client.appendMessages(instance, "s", { messages: messages(2, 2), reset: { daily } });
    expect(appended).toMatchObject({ reset: true, generation: 1, total: 1 });
    clock.advance(HOUR);
    expect(await client.appendMessages(instance, "s", { messages: messages(3, 3), reset: { daily } })).toMatchObject({
      reset: false,
      total: 2,
    });
  });

  it("routes session keys with URL-significant characters", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    for (const key of ["a/b", "50%off", "x:{tag}:y", "q?x=1#f"]) {
      await client.appendMessages(instance, key, { messages: [{ id: key, role: "user", content: key }] });
      const window = await client.readSession(instance, key);
      expect(window.sessionKey).toBe(key);
      expect(window.messages.map((m) => m.content)).toEqual([key]);
    }
  });

  it("lists an instance's sessions by activity for operators, page by page", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    for (const key of ["s1", "s2", "s3"]) {
      clock.advance(10);
      await client.appendMessages(instance, key, { messages: messages(1, 1) });
    }
    const operator = h.client(OPERATOR);
    const first = await operator.listSessions(instance, { limit: 2 });
    expect(first.sessions.map((s) => s.sessionKey)).toEqual(["s3", "s2"]);
    expect(first.nextCursor).not.toBeNull();
    const second = await operator.listSessions(instance, { limit: 2, cursor: first.nextCursor! });
    expect(second).toMatchObject({ sessions: [{ sessionKey: "s1" }], nextCursor: null });
    await expect(h.client(instanceScope("someone-else")).listSessions(instance)).rejects.toMatchObject({ status: 403 });
    await expect(operator.listSessions(instance, { cursor: "bogus" })).rejects.toMatchObject({ status: 400 });
  });

  it("refuses malformed session requests with field paths", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const scope = instanceScope(instance);
    const response = await h.raw(`/v1/instances/${instance}/sessions/s/messages`, {
      method: "POST",
      scope,
      json: { messages: [{ id: "", role: "robot", content: 1 }], extra: true },
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; issues: Array<{ path: string }> } };
    expect(error.code).toBe("invalid_request");
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["messages.0.id", "messages.0.role", "messages.0.content", ""]),
    );
    const badQuery = await h.raw(`/v1/instances/${instance}/sessions/s/messages?last=-1`, { scope });
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { error: { issues: Array<{ path: string }> } }).error.issues[0]!.path).toBe(
      "query.last",
    );
    const zoneOnly = await h.raw(`/v1/instances/${instance}/sessions/s/messages?timeZone=UTC`, { scope });
    expect(zoneOnly.status).toBe(400);
    const badZone = await h.raw(`/v1/instances/${instance}/sessions/s/messages?dailyHour=4&timeZone=Mars/Olympus`, {
      scope,
    });
    expect(badZone.status).toBe(400);
    await expect(h.client(scope).appendMessages(instance, "s", { messages: [] })).rejects.toBeInstanceOf(MemoryError);
  });
});
