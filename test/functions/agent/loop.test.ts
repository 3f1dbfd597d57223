import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { type FakeOpenAI, type FakeReply, startFakeOpenAI } from "../../fakes/openai/server.ts";
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

beforeAll(async () => {
  memory = await startMemory();
  model = await startFakeOpenAI();
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

type Message = { role: string; content?: string | null; tool_calls?: unknown[] };
const lastMessage = (body: Record<string, unknown>) => (body.messages as Message[]).at(-1)!;
const toolResults = (body: Record<string, unknown>) =>
  (body.messages as Message[]).filter((m) => m.role === "tool").map((m) => JSON.parse(m.content as string));

/** Script the model: on a user turn ask for `first`, after tool results answer with the text `then`. */
function script(first: FakeReply, then: (results: Array<Record<string, unknown>>) => string) {
  model.setResponder((request) =>
    lastMessage(request.body).role === "tool" ? { kind: "message", text: then(toolResults(request.body)) } : first,
  );
}

let sequence = 0;
function message(
  text: string,
  overrides: { sender?: string; messageId?: string; command?: "new" | "status" | "stop" } = {},
): CloudEvent {
  sequence += 1;
  return makeEvent(T.MESSAGE_RECEIVED, {
    source: "/knclaw/channels/slack",
    data: {
      instance: "ops",
      channel: "slack",
      messageId: overrides.messageId ?? `msg-${sequence}-${Date.now()}`,
      conversation: "C1",
      sender: { channel: "slack", id: overrides.sender ?? "U1", displayName: overrides.sender ?? "alice" },
      text,
      replyTo: { channel: "slack", conversation: "C1" },
      receivedAt: new Date().toISOString(),
      ...(overrides.command ? { command: overrides.command } : {}),
    },
  });
}

const TWO_TOOLS: FakeReply = {
  kind: "message",
  toolCalls: [
    { id: "call_pods", name: "kubernetes__get_pods", arguments: '{"namespace":"default"}' },
    { id: "call_fetch", name: "http__fetch", arguments: '{"url":"https://status.example.com"}' },
  ],
};

describe("agent loop over HTTP with the real memory service", () => {
  it("runs two tools in parallel and sends exactly one answer, recording the turn in the session", async () => {
    script(TWO_TOOLS, (results) => `Pods: ${JSON.stringify(results.map((r) => r.content))}`);
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    const before = model.requests.length;
    expect(await bus.deliver(message("how is the cluster?"))).toBe(200);
    const toolRequests = bus.queue.filter((e) => e.attributes.type === T.TOOL_REQUESTED);
    expect(toolRequests.map((e) => e.attributes.knclawskill).sort()).toEqual(["http", "kubernetes"]);
    const statuses = await bus.pump();
    expect(statuses).toEqual([200, 200]);
    expect(counters.calls).toEqual({ get_pods: 1, fetch: 1 });
    const sends = bus.ofType(T.MESSAGE_SEND);
    expect(sends).toHaveLength(1);
    expect(bus.data(sends[0]!, T.MESSAGE_SEND).text).toContain("web-1");
    const outcome = bus.ofType(T.RUN_COMPLETED);
    expect(outcome).toHaveLength(1);
    expect(bus.data(outcome[0]!, T.RUN_COMPLETED)).toMatchObject({
      turns: 2,
      toolCalls: 2,
      contractVersion: expect.stringMatching(/^default@/),
    });
    expect(model.requests.length - before).toBe(2);
    const second = model.requests.at(-1)!.body;
    expect(toolResults(second).every((r) => r.untrusted === true)).toBe(true);

    const client = new MemoryClient({ baseUrl: memory.url, token: memory.tokenFor("ops") });
    const window = await client.readSession("ops", "slack::U1");
    expect(window.messages.map((m) => m.role).slice(-2)).toEqual(["user", "assistant"]);
    expect(window.messages.at(-1)!.content).toContain("web-1");
  });

  it("with every event delivered three times, runs each tool once and sends one message", async () => {
    script(TWO_TOOLS, () => "all good");
    await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) }));
    bus.copies = 3;
    const before = model.requests.length;
    expect(await bus.deliver(message("status?"))).toBe(200);
    await bus.pump();
    expect(counters.calls).toEqual({ get_pods: 1, fetch: 1 });
    expect(bus.ofType(T.MESSAGE_SEND)).toHaveLength(1);
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
    expect(model.requests.length - before).toBe(2);
  });

  it("after a crash between commit and emit, the redelivery re-emits the same events and ends with one outcome", async () => {
    script(TWO_TOOLS, () => "recovered");
    const env = agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) });
    let crashes = 1;
    await bus.startAgent(env, {
      faults: {
        afterCommit: () => {
          if (crashes-- > 0) throw new Error("injected crash after commit");
        },
      },
    });
    const event = message("check");
    const before = model.requests.length;
    expect(await bus.deliver(event)).toBe(500);
    expect(bus.queue).toHaveLength(0);
    // A new process: nothing of the old one's memory survives.
    await bus.startAgent(env);
    expect(await bus.deliver(event)).toBe(200);
    expect(model.requests.length - before).toBe(1);
    await bus.pump();
    expect(counters.calls).toEqual({ get_pods: 1, fetch: 1 });
    expect(bus.distinct(T.MESSAGE_SEND)).toHaveLength(1);
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
  });

  it("after a crash between emit and acknowledgement, the redelivery re-sends the same ids and nothing runs twice", async () => {
    script(TWO_TOOLS, () => "done despite the crash");
    const env = agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters) });
    let crashed = false;
    await bus.startAgent(env, {
      faults: {
        afterEmit: (_runId, _eventId, types) => {
          if (!crashed && types.includes(T.MESSAGE_SEND)) {
            crashed = true;
            throw new Error("injected crash after emit");
          }
        },
      },
    });
    const before = model.requests.length;
    await bus.deliver(message("check"));
    expect(await bus.pump()).toContain(500);
    expect(bus.failed).toHaveLength(1);
    // A new process takes the redelivery: it finds the step applied and re-sends its outbox under the same ids.
    await bus.startAgent(env);
    expect(await bus.redeliverFailed()).toEqual([200]);
    await bus.pump();
    const sends = bus.ofType(T.MESSAGE_SEND);
    expect(sends).toHaveLength(2);
    expect(bus.distinct(T.MESSAGE_SEND)).toHaveLength(1);
    expect(bus.distinct(T.RUN_COMPLETED)).toHaveLength(1);
    expect(counters.calls).toEqual({ get_pods: 1, fetch: 1 });
    expect(model.requests.length - before).toBe(2);
  });
});
