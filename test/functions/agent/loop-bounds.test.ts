import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { contextTokens } from "../../../functions/agent/loop/context-fit.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import {
  agentEnv,
  type MemoryFixture,
  type SkillCounters,
  startMemory,
  TestBus,
  testSkills,
} from "./support/harness.ts";

/**
 * Bounded runs (the agent's side): large tool results live in run blobs and the run document stays small; every
 * model request fits `contextTokens`; a state that cannot be committed, a request that cannot fit and a model that
 * floods or hangs each end the run at once with the accurate reason. Assertions are on reasons and sizes, never time.
 */
let memory: MemoryFixture;
let model: FakeOpenAI;
let bus: TestBus;
let counters: SkillCounters;
let client: MemoryClient;

beforeAll(async () => {
  memory = await startMemory();
  model = await startFakeOpenAI();
  client = new MemoryClient({ baseUrl: memory.url, token: memory.tokenFor("ops") });
});
afterAll(async () => {
  await model.close();
  await memory.close();
});
afterEach(async () => {
  await bus.close();
});

let sequence = 0;
function task(text: string): { event: CloudEvent; runId: string } {
  sequence += 1;
  const runId = `bounds-${sequence}-${Date.now()}`;
  const event = makeEvent(T.RUN_REQUESTED, {
    source: "/knclaw/gateway",
    data: { instance: "ops", runId, task: text },
  });
  return { event, runId };
}

const reasons = () => bus.ofType(T.RUN_FAILED).map((e) => bus.data(e, T.RUN_FAILED).reason);

/** The request as the fake received it, in the agent's token estimate. */
function requestTokens(body: Record<string, unknown>): number {
  const messages = body.messages as Array<{ content?: string | null; tool_calls?: unknown }>;
  let total = 0;
  for (const message of messages)
    total += 4 + contextTokens(message.content ?? "") + contextTokens(JSON.stringify(message.tool_calls ?? ""));
  return total + contextTokens(JSON.stringify(body.tools ?? []));
}

describe("large tool results", () => {
  const body = "log line ".repeat(3_300); // ~30 KB per result
  beforeEach(async () => {
    counters = { calls: {} };
    bus = new TestBus();
    await bus.addSkills(testSkills(counters, { fetch: { body } }));
  });

  it("go to run blobs: the document stays small, the latest result is shown whole and older ones elided", async () => {
    model.requests.length = 0;
    model.setResponder((request) => {
      const results = (request.body.messages as Array<{ role: string }>).filter((m) => m.role === "tool").length;
      return results < 4
        ? {
            kind: "message",
            toolCalls: [
              { id: `c${results}`, name: "http__fetch", arguments: `{"url":"https://example.com/${results}"}` },
            ],
          }
        : { kind: "message", text: "Read them all." };
    });
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        settings: { contextTokens: 16_000, maxOutputTokens: 1024 },
      }),
    );
    const { event, runId } = task("fetch four pages");
    expect(await bus.deliver(event)).toBe(200);
    await bus.pump();
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
    expect(counters.calls.fetch).toBe(4);
    // Every request within the context, with the output allowance reserved.
    for (const request of model.requests) expect(requestTokens(request.body)).toBeLessThanOrEqual(16_000 - 1024);
    const last = model.requests.at(-1)!.body.messages as Array<{ role: string; content: string }>;
    const results = last.filter((m) => m.role === "tool");
    expect(results).toHaveLength(4);
    expect(results.slice(0, 3).every((m) => m.content.includes('"elided"'))).toBe(true);
    expect(results[3]!.content).toContain(body);
    // The document keeps references and previews, and the blobs hold the results.
    const run = (await client.getRun("ops", runId))!;
    expect(Buffer.byteLength(JSON.stringify(run.state))).toBeLessThan(32 * 1024);
    const transcript = run.state.transcript as Array<{ role: string; blob?: { sha256: string } }>;
    const refs = transcript.filter((m) => m.role === "tool").map((m) => m.blob!.sha256);
    expect(refs).toHaveLength(4);
    expect(await client.getRunBlob("ops", runId, refs[0]!)).toContain(body);
  });
});

describe("runs that cannot go on end at once with the accurate reason", () => {
  beforeEach(async () => {
    counters = { calls: {} };
    bus = new TestBus();
    await bus.addSkills(testSkills(counters));
  });

  it("a state over its size budget fails the run as state_too_large (no stall, no tool call)", async () => {
    model.setResponder(() => ({
      kind: "message",
      fragment: 16_384,
      toolCalls: [{ id: "big", name: "http__fetch", arguments: JSON.stringify({ url: "u".repeat(150_000) }) }],
    }));
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    const { event, runId } = task("call with huge arguments");
    expect(await bus.deliver(event)).toBe(200);
    await bus.pump();
    expect(reasons()).toEqual(["state_too_large"]);
    expect(bus.requested).toHaveLength(0);
    expect((await client.getRun("ops", runId))?.status).toBe("failed");
  });

  it("a run whose very task is too large to keep ends as state_too_large, keeping only the task's beginning", async () => {
    model.setResponder(() => ({ kind: "message", text: "ok", fragment: 1024 }));
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    const runId = `huge-input-${Date.now()}`;
    const event = makeEvent(T.RUN_REQUESTED, {
      source: "/knclaw/gateway",
      data: { instance: "ops", runId, task: "summarise the input", input: "y".repeat(220_000) },
    });
    expect(await bus.deliver(event)).toBe(200);
    await bus.pump();
    expect(reasons()).toEqual(["state_too_large"]);
    const run = (await client.getRun("ops", runId))!;
    expect(run.status).toBe("failed");
    expect(Buffer.byteLength(JSON.stringify(run.state))).toBeLessThan(64 * 1024);
  });

  it("a request that cannot fit the context fails the run as context_exceeded, without asking the model", async () => {
    model.requests.length = 0;
    await bus.startAgent(
      agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters), settings: { contextTokens: 4096 } }),
    );
    expect(await bus.deliver(task("x".repeat(60_000)).event)).toBe(200);
    await bus.pump();
    expect(reasons()).toEqual(["context_exceeded"]);
    expect(model.requests).toHaveLength(0);
  });

  it("a model flooding its answer fails the run at the output cap", async () => {
    model.enqueue({ kind: "flood" });
    await bus.startAgent(
      agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters), settings: { maxOutputBytes: 65_536 } }),
    );
    expect(await bus.deliver(task("answer forever").event)).toBe(200);
    await bus.pump();
    expect(reasons()).toEqual(["model_error:output_too_large"]);
  });

  it("a model hanging after its headers fails the run when its wall clock runs out", async () => {
    model.enqueue({ kind: "hang" });
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        policy: { budgets: { wallClockSeconds: 1 } },
      }),
    );
    expect(await bus.deliver(task("hang").event)).toBe(200);
    await bus.pump();
    expect(reasons()).toEqual(["budget_exceeded:wall_clock"]);
  });
});

describe("long sessions", () => {
  beforeEach(async () => {
    counters = { calls: {} };
    bus = new TestBus();
    await bus.addSkills(testSkills(counters));
  });

  const MAX_CHUNKS_PER_RUN = 4;
  const isCompaction = (body: Record<string, unknown>) =>
    String((body.messages as Array<{ content: string }>)[0]!.content).startsWith("Summarise");
  /** The session messages a compaction request shows, by their number (`message <n>:` lines), in order. */
  const shown = (body: Record<string, unknown>) =>
    [
      ...String((body.messages as Array<{ content: string }>)[1]!.content).matchAll(
        /^(?:user|assistant): message (\d+):/gm,
      ),
    ].map((match) => Number(match[1]));

  async function fill(sessionKey: string, count: number, words: number): Promise<void> {
    for (let start = 0; start < count; start += 500) {
      await client.appendMessages("ops", sessionKey, {
        messages: Array.from({ length: 500 }, (_, i) => ({
          id: `h${start + i}`,
          role: (start + i) % 2 === 0 ? ("user" as const) : ("assistant" as const),
          content: `message ${start + i}: ${"talk ".repeat(words)}`,
        })),
      });
    }
  }

  /** One run of the session's conversation; answers the requests the model received during it. */
  async function runIn(sessionKey: string) {
    const from = model.requests.length;
    const { event } = task("what did we talk about?");
    const withSession = makeEvent(T.RUN_REQUESTED, {
      source: "/knclaw/gateway",
      id: event.attributes.id!,
      data: { ...bus.data(event, T.RUN_REQUESTED), sessionKey },
    });
    expect(await bus.deliver(withSession)).toBe(200);
    await bus.pump();
    return model.requests.slice(from);
  }

  /** A model that answers runs "Done." and numbers its summaries; `fail` says which compaction requests fail. */
  function summarising(fail: (compaction: number) => boolean = () => false) {
    let compactions = 0;
    model.requests.length = 0;
    model.setResponder((request) => {
      if (!isCompaction(request.body)) return { kind: "message", text: "Done." };
      compactions += 1;
      return fail(compactions)
        ? { kind: "error", status: 400, message: "context length exceeded" }
        : { kind: "message", text: `summary ${compactions}` };
    });
  }

  function expectWithinContext(requests: typeof model.requests, contextTokensLimit: number): void {
    // The system prompt travels as the first message: the whole request plus its output allowance is counted.
    for (const request of requests) {
      const allowance = request.body.max_completion_tokens as number;
      expect(requestTokens(request.body) + allowance).toBeLessThanOrEqual(contextTokensLimit);
    }
  }

  it("a 2,000-message session: every request, compaction included, fits the context, and compaction happens", async () => {
    const sessionKey = `long-${Date.now()}`;
    await fill(sessionKey, 2_000, 40);
    summarising();
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        settings: { contextTokens: 8_000, maxOutputTokens: 1024 },
      }),
    );
    const requests = await runIn(sessionKey);
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
    const compactions = requests.filter((request) => isCompaction(request.body));
    expect(requests.length - compactions.length).toBe(1);
    expect(compactions).toHaveLength(MAX_CHUNKS_PER_RUN);
    expectWithinContext(requests, 8_000);
    // The chunks start at the oldest message and follow each other; the session goes on right after the last.
    const covered = compactions.flatMap((request) => shown(request.body));
    expect(covered).toEqual(Array.from({ length: covered.length }, (_, i) => i));
    const window = await client.readSession("ops", sessionKey, { from: "oldest", last: 1 });
    expect(window.summary?.content).toBe(`summary ${MAX_CHUNKS_PER_RUN}`);
    expect(window.messages[0]!.id).toBe(`h${covered.length}`);
    expect(window.total).toBe(2_002 - covered.length);
  });

  it("a 10,000-message session is compacted fully over a few runs in bounded requests, nothing dropped unsummarised", async () => {
    const sessionKey = `huge-${Date.now()}`;
    await fill(sessionKey, 10_000, 4);
    summarising();
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        settings: { contextTokens: 16_000, maxOutputTokens: 1024 },
      }),
    );
    const compactions: typeof model.requests = [];
    let runs = 0;
    while ((await client.readSession("ops", sessionKey, { last: 0 })).total > 10 && runs < 10) {
      const requests = (await runIn(sessionKey)).filter((request) => isCompaction(request.body));
      expect(requests.length).toBeLessThanOrEqual(MAX_CHUNKS_PER_RUN);
      compactions.push(...requests);
      runs += 1;
    }
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(runs);
    expect(runs).toBeGreaterThan(1);
    expectWithinContext(model.requests, 16_000);
    // Every stored message was shown to exactly one compaction, oldest first, or is still in the kept tail; each
    // compaction folded the summary before it in.
    const covered = compactions.flatMap((request) => shown(request.body));
    expect(covered).toEqual(Array.from({ length: covered.length }, (_, i) => i));
    compactions.slice(1).forEach((request, i) => {
      expect(String((request.body.messages as Array<{ content: string }>)[1]!.content)).toContain(
        `Earlier summary:\nsummary ${i + 1}\n`,
      );
    });
    const window = await client.readSession("ops", sessionKey, { last: 50 });
    expect(window.summary?.content).toBe(`summary ${compactions.length}`);
    const tail = window.messages.filter((m) => m.id.startsWith("h")).map((m) => m.id);
    expect(tail).toEqual(Array.from({ length: 10_000 - covered.length }, (_, i) => `h${covered.length + i}`));
    expect(window.total).toBeLessThanOrEqual(10);
  });

  it("a failed chunk backs off, and the next compaction resumes after the last chunk made, without loss or repeat", async () => {
    const sessionKey = `resume-${Date.now()}`;
    await fill(sessionKey, 2_000, 40);
    summarising((compaction) => compaction === 3);
    let now = Date.now();
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        settings: { contextTokens: 8_000, maxOutputTokens: 1024 },
      }),
      { now: () => now },
    );
    const first = (await runIn(sessionKey)).filter((request) => isCompaction(request.body));
    expect(first).toHaveLength(3);
    const made = [...shown(first[0]!.body), ...shown(first[1]!.body)];
    let oldest = await client.readSession("ops", sessionKey, { from: "oldest", last: 1 });
    expect(oldest.summary?.content).toBe("summary 2");
    expect(oldest.messages[0]!.id).toBe(`h${made.length}`);
    // Within the backoff (one minute after the first failure) no compaction is tried.
    now += 30_000;
    expect((await runIn(sessionKey)).filter((request) => isCompaction(request.body))).toHaveLength(0);
    now += 60_000;
    const resumed = (await runIn(sessionKey)).filter((request) => isCompaction(request.body));
    expect(resumed).toHaveLength(MAX_CHUNKS_PER_RUN);
    const failed = shown(first[2]!.body);
    expect(shown(resumed[0]!.body)).toEqual(failed);
    expect(failed[0]).toBe(made.length);
    expect(String((resumed[0]!.body.messages as Array<{ content: string }>)[1]!.content)).toContain(
      "Earlier summary:\nsummary 2\n",
    );
    const covered = [...made, ...resumed.flatMap((request) => shown(request.body))];
    expect(covered).toEqual(Array.from({ length: covered.length }, (_, i) => i));
    oldest = await client.readSession("ops", sessionKey, { from: "oldest", last: 1 });
    expect(oldest.messages[0]!.id).toBe(`h${covered.length}`);
    expectWithinContext(model.requests, 8_000);
  });
});
