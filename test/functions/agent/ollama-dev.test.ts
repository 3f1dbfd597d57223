import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { Served } from "../../../runtime/serve.ts";
import { generateSigningKey } from "../../../skills/runtime/index.ts";
import { type FakeOllama, type OllamaRequest, type OllamaTurn, startFakeOllama } from "../../fakes/ollama/server.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { sendSlackMessage, startToolPlatform, startToolSkills, toolPlatformObjects } from "./support/dev-skills.ts";

/**
 * `model: ollama/<model>` end to end on knclaw dev: the knclaw.yaml is validated and rendered, the agent runs as it
 * would on a cluster and talks, through the openai SDK, to a local fake of Ollama's OpenAI-compatible API
 * (test/fakes/ollama) with its streaming quirks: reasoning chunks, both tool calls whole in one chunk, usage only
 * when asked for, and (the older releases) empty call ids, every call at index 0 and `finish_reason: "stop"` after
 * tool calls. Two external skills answer the calls by Trigger. Beside it, an instance whose OpenAI key resolves
 * empty fails each of its runs saying so, and the Ollama instance runs on.
 */
const MODEL = "llama3.1:8b";
const keys = generateSigningKey();
let runtime: DevRuntime | undefined;
let ollama: FakeOllama | undefined;
let catcher: Subscriber;
let skillServers: Served[] = [];
const calls: Record<string, number> = {};

/** A tool-calling conversation: reasoning, a preamble and both tools first; once both answered, the answer. */
function conversation(request: OllamaRequest): OllamaTurn {
  const messages = request.body.messages as Array<{ role: string; content?: string }>;
  const results = messages.filter((m) => m.role === "tool");
  if (results.length === 0) {
    return {
      thinking: "Pods first, then the status page.",
      text: "Checking both.",
      toolCalls: [
        { name: "cluster__get_pods", arguments: { namespace: "default" } },
        { name: "web__status", arguments: { url: "https://status.example.com" } },
      ],
      promptEvalCount: 120,
      evalCount: 30,
    };
  }
  return {
    text: `Both answered: ${results.map((r) => r.content).join(" | ")}`,
    promptEvalCount: 200,
    evalCount: 12,
  };
}

beforeEach(async () => {
  for (const key of Object.keys(calls)) delete calls[key];
  catcher = await startSubscriber();
  skillServers = await startToolSkills(keys.publicKeyPem, calls);
});

afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
  await Promise.all(skillServers.map((s) => s.shutdown()));
  await catcher.close();
  await ollama?.close();
  ollama = undefined;
});

function platformObjects(baseUrl: string, agent: Record<string, unknown> = {}): KnativeObject[] {
  const instances = {
    ops: {
      model: `ollama/${MODEL}`,
      provider: { baseUrl },
      skills: ["cluster", "web"],
      ...(Object.keys(agent).length > 0 ? { agent } : {}),
    },
    // Its key names a Secret nobody provides: under knclaw dev the variable stays unset.
    billing: { model: "openai/gpt-4o", provider: { apiKey: { secret: "knclaw-openai", key: "api-key" } } },
  };
  return toolPlatformObjects(skillServers, instances, catcher.url, [T.MESSAGE_SEND, T.RUN_COMPLETED, T.RUN_FAILED]);
}

async function start(objects: KnativeObject[]): Promise<DevRuntime> {
  runtime = await startToolPlatform(objects, keys.privateKeyPem);
  return runtime;
}

const sendMessage = (dev: DevRuntime, instance: string, text: string) =>
  sendSlackMessage(dev, instance, text, `C-${instance}`);

const ofType = (type: string, instance: string) => (r: Received) =>
  r.headers["ce-type"] === type && r.headers["ce-knclawinstance"] === instance;
// biome-ignore lint/suspicious/noExplicitAny: event data as the tests read it; the catalog validated it on the way.
const dataOf = (r: Received) => JSON.parse(r.body.toString()) as Record<string, any>;

/** The Chat Completions messages the fake received, as far as these tests read them. */
interface SentMessage {
  role: string;
  content?: string | null;
  tool_call_id?: string;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
}
const messagesOf = (request: OllamaRequest) => request.body.messages as SentMessage[];
const assistantCalls = (messages: SentMessage[]) =>
  messages.find((m) => m.role === "assistant" && m.tool_calls)!.tool_calls!;

describe("model: ollama/<model> on knclaw dev", () => {
  it("runs a tool-calling conversation against Ollama's current streaming (ids, indexes, usage when asked)", async () => {
    ollama = await startFakeOllama({ models: [MODEL], respond: conversation });
    const dev = await start(platformObjects(ollama.url));
    await sendMessage(dev, "ops", "how are things?");
    const completed = await catcher.waitUntil(ofType(T.RUN_COMPLETED, "ops"));
    await dev.idle();

    const output = dataOf(completed).output as string;
    expect(output).toMatch(/^Both answered: .*"tool":"get_pods","ok":true.* \| .*"tool":"status","ok":true/);
    // Ollama's usage chunk (asked for with stream_options) is what the run counts: 120 + 200 in, 30 + 12 out.
    expect(dataOf(completed).usage).toEqual({ inputTokens: 320, outputTokens: 42 });
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    // The preamble streamed before the tool calls, then the answer; the reasoning is in neither.
    const sends = catcher.received.filter(ofType(T.MESSAGE_SEND, "ops")).map((r) => dataOf(r).text);
    expect(sends).toEqual(["Checking both.", output]);

    expect(ollama.requests).toHaveLength(2);
    const [first, second] = ollama.requests.map((r) => r.body);
    for (const body of [first!, second!]) {
      expect(body).toMatchObject({ model: MODEL, stream: true, stream_options: { include_usage: true } });
      expect(body).not.toHaveProperty("max_completion_tokens");
      expect(body).not.toHaveProperty("tool_choice");
    }
    expect((first!.tools as Array<{ function: { name: string } }>).map((t) => t.function.name).sort()).toEqual([
      "cluster__get_pods",
      "web__status",
    ]);
    // The second request carries the assistant turn as Ollama gave it (its ids, arguments as JSON text) and one
    // tool message answering each call.
    const messages = messagesOf(ollama.requests[1]!);
    const sent = assistantCalls(messages);
    expect(sent.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ["cluster__get_pods", { namespace: "default" }],
      ["web__status", { url: "https://status.example.com" }],
    ]);
    expect(sent.every((c) => /^call_[a-z0-9]{8}$/.test(c.id))).toBe(true);
    const answered = messages.filter((m) => m.role === "tool").map((m) => m.tool_call_id);
    expect(answered).toEqual(sent.map((c) => c.id));
  });

  it("runs the same conversation against older Ollama: empty ids, index 0 for both calls, stop, no usage", async () => {
    ollama = await startFakeOllama({ models: [MODEL], version: "legacy", respond: conversation });
    const dev = await start(platformObjects(ollama.url));
    await sendMessage(dev, "ops", "and on the old release?");
    const completed = await catcher.waitUntil(ofType(T.RUN_COMPLETED, "ops"));
    await dev.idle();

    // Two calls, not one merged call: each tool ran once and each call was answered under an id of its own.
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    expect(dataOf(completed).output).toContain("Both answered");
    const messages = messagesOf(ollama.requests[1]!);
    const ids = assistantCalls(messages).map((c) => c.id);
    expect(new Set(ids).size).toBe(2);
    expect(messages.filter((m) => m.role === "tool").map((m) => m.tool_call_id)).toEqual(ids);
    // No usage came back: the run's usage is estimated, never zero.
    expect(dataOf(completed).usage.inputTokens).toBeGreaterThan(0);
    expect(dataOf(completed).usage.outputTokens).toBeGreaterThan(0);
  });

  it("reads the non-streamed answer too (agent.stream off)", async () => {
    ollama = await startFakeOllama({ models: [MODEL], respond: conversation });
    const dev = await start(platformObjects(ollama.url, { stream: false }));
    await sendMessage(dev, "ops", "without streaming?");
    const completed = await catcher.waitUntil(ofType(T.RUN_COMPLETED, "ops"));
    await dev.idle();
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    expect(dataOf(completed).usage).toEqual({ inputTokens: 320, outputTokens: 42 });
    expect(ollama.requests.every((r) => r.body.stream !== true)).toBe(true);
  });

  it("a model that was never pulled fails the run with Ollama's 404 message", async () => {
    ollama = await startFakeOllama({ models: ["qwen2.5:7b"], respond: conversation });
    const dev = await start(platformObjects(ollama.url));
    await sendMessage(dev, "ops", "hello?");
    const failed = await catcher.waitUntil(ofType(T.RUN_FAILED, "ops"));
    await dev.idle();
    expect(dataOf(failed).reason).toBe("model_error:bad_request");
    expect(dataOf(failed).message).toContain(`model "${MODEL}" not found, try pulling it first`);
    expect(calls).toEqual({});
  });

  it("an instance whose key resolves empty fails each run naming the variable; the other instance runs on", async () => {
    ollama = await startFakeOllama({ models: [MODEL], respond: conversation });
    const dev = await start(platformObjects(ollama.url));
    await sendMessage(dev, "billing", "what do I owe?");
    const failed = await catcher.waitUntil(ofType(T.RUN_FAILED, "billing"));
    expect(dataOf(failed).reason).toBe("model_error:missing_credential");
    const told = await catcher.waitUntil(ofType(T.MESSAGE_SEND, "billing"));
    expect(dataOf(told).text).toContain("KNCLAW_PROVIDER_API_KEY");
    expect(dataOf(told).text).not.toContain("[demo model");
    // A second run fails the same way: every run says it, not only the first.
    await sendMessage(dev, "billing", "still there?");
    await catcher.waitUntil((r) => ofType(T.RUN_FAILED, "billing")(r) && r !== failed);
    await sendMessage(dev, "ops", "how are things?");
    await catcher.waitUntil(ofType(T.RUN_COMPLETED, "ops"));
    await dev.idle();
    expect(catcher.received.filter(ofType(T.RUN_FAILED, "billing"))).toHaveLength(2);
    expect(calls).toEqual({ get_pods: 1, status: 1 });
  });
});
