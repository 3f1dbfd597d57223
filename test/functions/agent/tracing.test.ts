import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { agentEnv, type MemoryFixture, startMemory, TestBus, testSkills } from "./support/harness.ts";

const exporter = new InMemorySpanExporter();
let memory: MemoryFixture;
let model: FakeOpenAI;

beforeAll(async () => {
  // What an OpenTelemetry SDK sets up in a process that exports traces.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  memory = await startMemory();
  model = await startFakeOpenAI();
});
afterAll(async () => {
  await model.close();
  await memory.close();
  trace.disable();
  context.disable();
});

describe("tracing", () => {
  it("continues the event's trace with a step span and a GenAI span per model call, noting policy verdicts", async () => {
    const counters = { calls: {} };
    const bus = new TestBus();
    await bus.addSkills(testSkills(counters));
    model.setResponder((request) => {
      const messages = request.body.messages as Array<{ role: string }>;
      return messages.at(-1)!.role === "tool"
        ? { kind: "message", text: "no", usage: { prompt_tokens: 30, completion_tokens: 3 } }
        : {
            kind: "message",
            toolCalls: [{ id: "c1", name: "kubernetes__delete_pod", arguments: '{"namespace":"a","name":"b"}' }],
            usage: { prompt_tokens: 20, completion_tokens: 5 },
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
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const event = makeEvent(T.MESSAGE_RECEIVED, {
      source: "/knclaw/channels/slack",
      data: {
        instance: "ops",
        channel: "slack",
        messageId: `trace-${Date.now()}`,
        conversation: "C1",
        sender: { channel: "slack", id: "U1" },
        text: "delete b",
        replyTo: { channel: "slack", conversation: "C1" },
        receivedAt: new Date().toISOString(),
      },
      extensions: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(await bus.deliver(event)).toBe(200);
    await bus.close();
    const spans = exporter.getFinishedSpans();
    const step = spans.find((s) => s.name === "knclaw.agent message.received")!;
    expect(step.spanContext().traceId).toBe(traceId);
    expect(step.attributes).toMatchObject({ "knclaw.instance": "ops", "knclaw.run_id": expect.stringMatching(/^m-/) });
    const calls = spans.filter((s) => s.name === "chat gpt-test");
    expect(calls).toHaveLength(2);
    expect(calls[0]!.attributes).toMatchObject({
      "gen_ai.provider.name": "openai",
      "gen_ai.usage.input_tokens": 20,
      "gen_ai.usage.output_tokens": 5,
    });
    expect(calls.every((s) => s.spanContext().traceId === traceId)).toBe(true);
    expect(step.events.map((e) => e.name)).toContain("policy.refused");
  });
});
