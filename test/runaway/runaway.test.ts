import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as T from "../../eventing/catalog/types.ts";
import { sessionKeyFor } from "../../functions/agent/loop/session-key.ts";
import type { FakeReply } from "../fakes/openai/server.ts";
import { messageFor, type RunawayPlatform, type RunEnd, startRunawayPlatform } from "./support/platform.ts";

/**
 * Runaway runs on `knclaw dev` (ARCHITECTURE.md, "The durable agent loop"): a model that never stops calling tools,
 * tools that answer 50 MB (read-only and mutating), a provider streaming 1 MiB/s forever, a session of 2,000 messages
 * and the compaction of one of 10,000.
 * Every run must end within its wall clock plus 5 s with the accurate reason, no model request may exceed the
 * instance's contextTokens, no tool may execute twice, nothing may be dead-lettered, and the process (which runs
 * the whole dev runtime) must stay under 600 MB RSS.
 */
const WALL_CLOCK_SECONDS = 15;
const CONTEXT_TOKENS = 16_000;
const RSS_LIMIT_MB = 600;

let platform: RunawayPlatform;
let callSequence = 0;

/** A tool call the fake proposes (ids unique across the suite, as a real model's are). */
function call(name: string) {
  callSequence += 1;
  return { id: `call_${callSequence}`, name: `bulk__${name}`, arguments: "{}" };
}

type Message = { role: string; content?: string | null; tool_calls?: unknown[] };

function responder(request: { body: Record<string, unknown> }): FakeReply {
  const messages = request.body.messages as Message[];
  const last = messages[messages.length - 1]!;
  switch (request.body.model) {
    case "loop":
      return { kind: "message", toolCalls: [call("ping")] };
    case "fanout":
      return { kind: "message", toolCalls: [1, 2, 3, 4, 5].map(() => call("ping")) };
    case "bulk": {
      if (last.role === "tool") return { kind: "message", text: `done: ${String(last.content).slice(0, 200)}` };
      return { kind: "message", toolCalls: [call(String(last.content).includes("write") ? "write" : "read")] };
    }
    case "flood":
    case "floodcap":
      return { kind: "flood", bytesPerSecond: 1024 * 1024 };
    default:
      return { kind: "message", text: "ok" };
  }
}

/** A token estimate of a request that errs high: every 4 bytes of its messages' and tools' JSON count as a token. */
function requestTokens(body: Record<string, unknown>): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify([body.messages, body.tools ?? []])) / 4);
}

/** Append `count` stored messages (about 60 tokens each) to the session the instance's next run reads. */
async function fillSession(instance: string, count: number): Promise<string> {
  const sessionKey = sessionKeyFor("main", messageFor(instance, "", "U1", "x"));
  for (let start = 0; start < count; start += 500) {
    await platform.memory.appendMessages(instance, sessionKey, {
      messages: Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
        id: `m-${start + i}`,
        role: i % 2 === 0 ? ("user" as const) : ("assistant" as const),
        content: `message ${start + i}: ${"lorem ipsum dolor sit amet ".repeat(8)}`,
      })),
    });
  }
  return sessionKey;
}

function requestsOf(model: string) {
  return platform.fake.requests.filter((request) => request.body.model === model);
}

function expectEndedWithin(end: RunEnd, wallClockSeconds: number): void {
  expect(end.seconds).toBeLessThanOrEqual(wallClockSeconds + 5);
}

function expectEveryToolRanOnce(): void {
  for (const counts of Object.values(platform.executions)) {
    for (const count of counts.values()) expect(count).toBe(1);
  }
}

beforeAll(async () => {
  platform = await startRunawayPlatform({
    policies: {
      looping: { budgets: { toolCalls: 40, wallClockSeconds: 60 }, termination: { maxTurns: 6 } },
      fanout: { budgets: { toolCalls: 12, wallClockSeconds: 60 }, termination: { maxTurns: 50 } },
      bounded: { budgets: { wallClockSeconds: WALL_CLOCK_SECONDS } },
      roomy: { budgets: { wallClockSeconds: 60 } },
    },
    instances: {
      loop: { policy: "looping" },
      fanout: { policy: "fanout" },
      bulk: { policy: "roomy" },
      // 16 MiB of output would take 16 s at 1 MiB/s: the 15 s wall clock must end the call first.
      flood: { policy: "bounded", agent: { maxOutputBytes: 16 * 1024 * 1024 } },
      floodcap: { policy: "bounded" },
      history: { policy: "roomy", agent: { contextTokens: CONTEXT_TOKENS, session: { scope: "main" } } },
      compact: {
        policy: "roomy",
        agent: { contextTokens: CONTEXT_TOKENS, compactAboveTokens: 8_000, session: { scope: "main" } },
      },
    },
    responder,
  });
}, 60_000);

afterAll(async () => {
  // A run's end is announced before its step finishes (session append, audit): let every delivery finish first.
  await platform?.dev.idle();
  await platform?.close();
});

describe("runaway runs on knclaw dev", () => {
  it("a model that calls a tool on every turn stops at max_turns, each call executed once", async () => {
    const end = await platform.run("loop", "keep pinging");
    expect(end.type).toBe(T.RUN_FAILED);
    expect(end.data.reason).toBe("max_turns");
    expectEndedWithin(end, 60);
    expect(platform.executions.ping.size).toBeGreaterThanOrEqual(5);
    expectEveryToolRanOnce();
  }, 70_000);

  it("a model that fans out five calls a turn stops at its tool-call budget", async () => {
    const end = await platform.run("fanout", "ping everything");
    expect(end.type).toBe(T.RUN_FAILED);
    expect(end.data.reason).toBe("budget_exceeded:tool_calls");
    expectEndedWithin(end, 60);
    expectEveryToolRanOnce();
  }, 70_000);

  for (const tool of ["read", "write"] as const) {
    it(`a 50 MB result of a ${tool === "read" ? "read-only" : "mutating"} tool reaches the model cut and marked, the tool executed once`, async () => {
      const before = platform.executions[tool].size;
      const end = await platform.run("bulk", `please ${tool}`);
      expect(end.type).toBe(T.RUN_COMPLETED);
      expect(end.data.output).toContain("done:");
      expectEndedWithin(end, 60);
      expect(platform.executions[tool].size).toBe(before + 1);
      expectEveryToolRanOnce();
      const answered = requestsOf("bulk").at(-1)!.body.messages as Message[];
      const result = String(answered.at(-1)!.content);
      expect(result).toContain("truncated");
      expect(Buffer.byteLength(result)).toBeLessThan(64 * 1024);
      expect(platform.peakRssMb()).toBeLessThan(RSS_LIMIT_MB);
    }, 70_000);
  }

  it("a provider streaming 1 MiB/s forever is cut at the answer's byte cap", async () => {
    const end = await platform.run("floodcap", "tell me everything");
    expect(end.type).toBe(T.RUN_FAILED);
    expect(end.data.reason).toBe("model_error:output_too_large");
    expectEndedWithin(end, WALL_CLOCK_SECONDS);
  }, 30_000);

  it(`a provider streaming 1 MiB/s forever is cut at the run's ${WALL_CLOCK_SECONDS} s wall clock`, async () => {
    const end = await platform.run("flood", "tell me everything, slowly");
    expect(end.type).toBe(T.RUN_FAILED);
    expect(end.data.reason).toBe("budget_exceeded:wall_clock");
    expectEndedWithin(end, WALL_CLOCK_SECONDS);
    expect(platform.peakRssMb()).toBeLessThan(RSS_LIMIT_MB);
  }, 40_000);

  it("a session of 2,000 messages: the model request fits contextTokens", async () => {
    await fillSession("history", 2_000);
    const end = await platform.run("history", "what did we talk about?");
    expect(end.type).toBe(T.RUN_COMPLETED);
    expectEndedWithin(end, 60);
    const requests = requestsOf("history");
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) expect(requestTokens(request.body)).toBeLessThanOrEqual(CONTEXT_TOKENS);
  }, 70_000);

  it("compaction of a 10,000-message session: each request fits contextTokens, the oldest messages get a summary, none dropped", async () => {
    const sessionKey = await fillSession("compact", 10_000);
    const end = await platform.run("compact", "and now?");
    expect(end.type).toBe(T.RUN_COMPLETED);
    expectEndedWithin(end, 60);
    // Compaction runs once the run has ended, in the same step: wait for the step to finish.
    await platform.dev.idle();
    const requests = requestsOf("compact");
    const compactions = requests.filter((request) => JSON.stringify(request.body.messages).includes("Summarise the"));
    expect(compactions.length).toBeGreaterThan(0);
    for (const request of requests) expect(requestTokens(request.body)).toBeLessThanOrEqual(CONTEXT_TOKENS);
    const window = await platform.memory.readSession("compact", sessionKey, { last: 10 });
    expect(window.summary).not.toBeNull();
    // Nothing dropped unsummarised: the chunks showed the oldest messages in order, and the session goes on right
    // after the last one shown.
    const shown = compactions.flatMap((request) =>
      [...JSON.stringify(request.body.messages).matchAll(/(?:user|assistant): message (\d+):/g)].map((m) =>
        Number(m[1]),
      ),
    );
    expect(shown).toEqual(Array.from({ length: shown.length }, (_, i) => i));
    const oldest = await platform.memory.readSession("compact", sessionKey, { from: "oldest", last: 1 });
    expect(oldest.messages[0]!.id).toBe(`m-${shown.length}`);
    expect(oldest.total).toBe(10_002 - shown.length);
  }, 70_000);

  it("nothing was dead-lettered and the process stayed under 600 MB RSS throughout", async () => {
    await platform.dev.idle();
    expect(platform.deadLetters.received).toEqual([]);
    expect(platform.peakRssMb()).toBeLessThan(RSS_LIMIT_MB);
  });
});
