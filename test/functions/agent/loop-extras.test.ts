import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import type { LanguageModel, ModelRequest, ModelResponse } from "../../../functions/agent/providers/model.ts";
import { defineSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import { fail } from "../../../skills/runtime/tool-error.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import {
  agentEnv,
  type MemoryFixture,
  type SkillCounters,
  startMemory,
  TestBus,
  testSkills,
} from "./support/harness.ts";

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
beforeEach(async () => {
  counters = { calls: {} };
  bus = new TestBus();
  await bus.addSkills(testSkills(counters));
});
afterEach(async () => {
  await bus.close();
});

let sequence = 0;
function message(text: string, options: { sender?: string; command?: "stop" } = {}): CloudEvent {
  sequence += 1;
  return makeEvent(T.MESSAGE_RECEIVED, {
    source: "/knclaw/channels/slack",
    data: {
      instance: "ops",
      channel: "slack",
      messageId: `x-${sequence}-${Date.now()}`,
      conversation: "C1",
      sender: { channel: "slack", id: options.sender ?? "U1" },
      text,
      replyTo: { channel: "slack", conversation: "C1" },
      receivedAt: new Date().toISOString(),
      ...(options.command ? { command: options.command } : {}),
    },
  });
}

describe("streaming", () => {
  it("sends the text the model streams before its tool calls at once, then the answer", async () => {
    model.setResponder((request) => {
      const messages = request.body.messages as Array<{ role: string }>;
      return messages.at(-1)!.role === "tool"
        ? { kind: "message", text: "All pods are running." }
        : {
            kind: "message",
            text: "Let me look at the pods.",
            toolCalls: [{ id: "c1", name: "kubernetes__get_pods", arguments: '{"namespace":"default"}' }],
          };
    });
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    await bus.deliver(message("pods?"));
    // The preamble went out during the model call, before the step even committed its tool request.
    expect(bus.queue.map((e) => e.attributes.type)).toEqual([T.MESSAGE_SEND, T.TOOL_REQUESTED]);
    await bus.pump();
    const texts = bus.ofType(T.MESSAGE_SEND).map((e) => bus.data(e, T.MESSAGE_SEND).text);
    expect(texts).toEqual(["Let me look at the pods.", "All pods are running."]);
    expect(new Set(bus.ofType(T.MESSAGE_SEND).map((e) => e.attributes.id)).size).toBe(2);
  });

  it("sends no preamble when the instance turns it off", async () => {
    model.setResponder((request) => {
      const messages = request.body.messages as Array<{ role: string }>;
      return messages.at(-1)!.role === "tool"
        ? { kind: "message", text: "done" }
        : {
            kind: "message",
            text: "Checking.",
            toolCalls: [{ id: "c1", name: "kubernetes__get_pods", arguments: '{"namespace":"default"}' }],
          };
    });
    await bus.startAgent(
      agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters), settings: { sendPreamble: false } }),
    );
    await bus.deliver(message("pods?"));
    await bus.pump();
    expect(bus.ofType(T.MESSAGE_SEND).map((e) => bus.data(e, T.MESSAGE_SEND).text)).toEqual(["done"]);
  });
});

describe("audit stream", () => {
  it("records what the policy refused, with the tool and the class", async () => {
    model.setResponder((request) => {
      const messages = request.body.messages as Array<{ role: string }>;
      return messages.at(-1)!.role === "tool"
        ? { kind: "message", text: "refused" }
        : {
            kind: "message",
            toolCalls: [{ id: "c1", name: "kubernetes__delete_pod", arguments: '{"namespace":"a","name":"b"}' }],
          };
    });
    await bus.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        policy: { tools: { deny: ["k8s:write"] } },
      }),
    );
    await bus.deliver(message("delete b"));
    await bus.pump();
    const audit = await client.readAudit("ops", { order: "desc", limit: 20 });
    const refusal = audit.entries.find((entry) => entry.type === "policy.refused");
    expect(refusal).toMatchObject({
      by: "instance:ops",
      data: { tool: "kubernetes.delete_pod", class: "PermissionDenied" },
    });
  });
});

/** Answers user turns with "ok"; answers compaction requests with a summary of what it was given. */
class SummarisingModel implements LanguageModel {
  readonly provider = "test";
  readonly modelId = "summariser";
  readonly streams = false;
  readonly requests: ModelRequest[] = [];
  async generate(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const text = request.system.startsWith("Summarise")
      ? "SUMMARY: the user asked about the cluster many times."
      : "ok";
    return { text, toolCalls: [], finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } };
  }
  stream(request: ModelRequest): Promise<ModelResponse> {
    return this.generate(request);
  }
}

describe("session window and compaction", () => {
  it("keeps the history inside the context budget and compacts an overflowing session into a summary", async () => {
    const sessionKey = "slack::U-long";
    const filler = "word ".repeat(200);
    for (let i = 0; i < 30; i++) {
      await client.appendMessages("ops", sessionKey, {
        messages: [
          { id: `old-${i}-u`, role: "user", content: `question ${i}: ${filler}` },
          { id: `old-${i}-a`, role: "assistant", content: `answer ${i}: ${filler}` },
        ],
      });
    }
    const summariser = new SummarisingModel();
    await bus.startAgent(
      agentEnv({
        memory,
        skills: testSkills(counters),
        settings: { contextTokens: 8000, maxOutputTokens: 500, compactAboveTokens: 3000 },
      }),
      { model: summariser },
    );
    await bus.deliver(message("and now?", { sender: "U-long" }));
    const first = summariser.requests[0]!;
    const historyTokens = first.messages.reduce((sum, m) => sum + m.content.length / 4, 0);
    expect(historyTokens).toBeLessThan(8000);
    expect(first.messages.at(-1)).toEqual({ role: "user", content: "and now?" });
    expect(first.messages.some((m) => m.content.startsWith("question 0:"))).toBe(false);
    expect(summariser.requests.some((r) => r.system.startsWith("Summarise"))).toBe(true);
    const window = await client.readSession("ops", sessionKey);
    expect(window.summary?.content).toContain("SUMMARY");
    expect(window.messages.length).toBeLessThan(62);
    // The next turn sees the summary in its system prompt.
    await bus.deliver(message("anything else?", { sender: "U-long" }));
    expect(summariser.requests.at(-1)!.system).toContain("SUMMARY: the user asked about the cluster");
  });
});

describe("/stop", () => {
  it("stops the sender's active runs and says so", async () => {
    model.setResponder(() => ({
      kind: "message",
      toolCalls: [{ id: "c1", name: "http__fetch", arguments: '{"url":"https://slow"}' }],
    }));
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    await bus.deliver(message("fetch slowly", { sender: "U-stop" }));
    const parked = bus.queue.splice(0);
    expect(parked.map((e) => e.attributes.type)).toEqual([T.TOOL_REQUESTED]);
    await bus.deliver(message("/stop", { sender: "U-stop", command: "stop" }));
    await bus.pump();
    expect(bus.ofType(T.RUN_FAILED).map((e) => bus.data(e, T.RUN_FAILED).reason)).toEqual(["stopped"]);
    expect(bus.ofType(T.MESSAGE_SEND).map((e) => bus.data(e, T.MESSAGE_SEND).text)).toEqual([
      "Stopped on request.",
      "Stopped 1 run.",
    ]);
  });
});

describe("retry policy", () => {
  it("re-issues a call that failed with a retryable class as the next attempt (new event id), and answers the model once", async () => {
    const flaky = new TestBus();
    let attempts = 0;
    const fetchUrl = defineTool({
      name: "fetch",
      description: "Fetch",
      input: z.object({ url: z.string() }),
      mutates: false,
      approval: false,
    });
    await flaky.addSkills([
      defineSkill({
        name: "http",
        manifest: {},
        tools: [fetchUrl],
        handlers: {
          fetch: async () => {
            attempts += 1;
            if (attempts === 1) throw fail.unavailable("upstream down");
            return { ok: true };
          },
        },
      }),
    ]);
    model.setResponder((request) => {
      const messages = request.body.messages as Array<{ role: string; content?: string }>;
      const last = messages.at(-1)!;
      return last.role === "tool"
        ? { kind: "message", text: `result: ${last.content}` }
        : { kind: "message", toolCalls: [{ id: "c1", name: "http__fetch", arguments: '{"url":"https://x"}' }] };
    });
    await flaky.startAgent(
      agentEnv({
        memory,
        modelUrl: model.url,
        skills: testSkills(counters),
        policy: { retry: { maxAttempts: 2, retryOn: ["Unavailable"] } },
      }),
    );
    await flaky.deliver(message("fetch x"));
    await flaky.pump();
    expect(attempts).toBe(2);
    const requests =
      flaky.ofType(T.TOOL_REQUESTED).length + flaky.sent.filter((e) => e.attributes.type === T.TOOL_REQUESTED).length;
    expect(requests).toBe(0);
    const answer = flaky.data(flaky.ofType(T.MESSAGE_SEND)[0]!, T.MESSAGE_SEND).text;
    expect(answer).toContain('"ok":true');
    expect(flaky.data(flaky.ofType(T.RUN_COMPLETED)[0]!, T.RUN_COMPLETED).toolCalls).toBe(1);
    await flaky.close();
  });
});
