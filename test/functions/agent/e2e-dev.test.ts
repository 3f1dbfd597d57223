import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { Served } from "../../../runtime/serve.ts";
import { generateSigningKey } from "../../../skills/runtime/index.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { sendSlackMessage, startToolPlatform, startToolSkills, toolPlatformObjects } from "./support/dev-skills.ts";

/**
 * End to end on `knclaw dev` (the startDev library): the rendered Broker, Triggers and ksvcs of a knclaw.yaml; the
 * agent mounted as in production; two external skills (served by the skill runtime on their own ports, routed by
 * their rendered Triggers); the model behind the OpenAI-compatible provider talking to the fake through the openai
 * SDK; a Trigger of our own catching message.send. Nothing is called directly: one message.received goes into the
 * broker ingress and everything else happens by Trigger.
 */
const keys = generateSigningKey();
let runtime: DevRuntime | undefined;
let fake: FakeOpenAI;
let channel: Subscriber;
let skillServers: Served[] = [];
const calls: Record<string, number> = {};

beforeEach(async () => {
  for (const key of Object.keys(calls)) delete calls[key];
  fake = await startFakeOpenAI({ apiKey: "not-needed" });
  fake.setResponder((request) => {
    const messages = request.body.messages as Array<{ role: string; content?: string }>;
    const results = messages.filter((m) => m.role === "tool");
    if (results.length === 0) {
      return {
        kind: "message",
        toolCalls: [
          { id: "call_pods", name: "cluster__get_pods", arguments: '{"namespace":"default"}' },
          { id: "call_status", name: "web__status", arguments: '{"url":"https://status.example.com"}' },
        ],
      };
    }
    return { kind: "message", text: `Both answered: ${results.map((r) => r.content).join(" | ")}` };
  });
  channel = await startSubscriber();
  skillServers = await startToolSkills(keys.publicKeyPem, calls);
});

afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
  await Promise.all(skillServers.map((s) => s.shutdown()));
  await channel.close();
  await fake.close();
});

function platformObjects(): KnativeObject[] {
  const ops = { model: "openai-compatible/gpt-test", provider: { baseUrl: fake.url }, skills: ["cluster", "web"] };
  return toolPlatformObjects(skillServers, { ops }, channel.url, [T.MESSAGE_SEND]);
}

/** Two more copies of every agent and skill Trigger: each such event is then delivered three times. */
function triplicated(objects: KnativeObject[]): KnativeObject[] {
  const extra: KnativeObject[] = [];
  for (const object of objects) {
    const route = object.metadata.labels?.["knclaw.dev/route"] ?? "";
    if (object.kind !== "Trigger" || !(route.startsWith("agent-") || route.startsWith("skill-"))) continue;
    for (const copy of [2, 3])
      extra.push({ ...object, metadata: { ...object.metadata, name: `${object.metadata.name}-copy${copy}` } });
  }
  return [...objects, ...extra];
}

async function start(objects: KnativeObject[]): Promise<DevRuntime> {
  runtime = await startToolPlatform(objects, keys.privateKeyPem);
  return runtime;
}

const sendMessage = (dev: DevRuntime, text: string) => sendSlackMessage(dev, "ops", text);

const sendsOf = (received: Received[]) => received.filter((r) => r.headers["ce-type"] === T.MESSAGE_SEND);

describe("end to end on knclaw dev", () => {
  it("message.received -> two tools in parallel -> both skills answer -> the model answers -> exactly one message.send", async () => {
    const dev = await start(platformObjects());
    await sendMessage(dev, "how are things?");
    const send = await channel.waitUntil((r) => r.headers["ce-type"] === T.MESSAGE_SEND);
    await dev.idle();
    expect(JSON.parse(send.body.toString()).text).toContain("Both answered");
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    expect(sendsOf(channel.received)).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
  });

  it("with every event delivered three times, each tool runs once and one message.send is emitted", async () => {
    const dev = await start(triplicated(platformObjects()));
    await sendMessage(dev, "and now, thrice?");
    await channel.waitUntil((r) => r.headers["ce-type"] === T.MESSAGE_SEND);
    await dev.idle();
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    expect(sendsOf(channel.received)).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
  });

  it("a crash after the step emitted (answer lost, broker redelivers) ends with the same single outcome", async () => {
    const dev = await start(platformObjects());
    const agent = dev.functions.find((fn) => fn.name === "agent-ops")!.mounted.handler;
    const real = agent.fetch.bind(agent);
    let crashes = 0;
    agent.fetch = async (request: Request) => {
      const response = await real(request);
      // The step that made the second model call is the run's last one: it committed and emitted the answer.
      if (request.headers.get("ce-type") === T.TOOL_COMPLETED && crashes === 0 && fake.requests.length === 2) {
        crashes += 1;
        return new Response("crashed", { status: 500 });
      }
      return response;
    };
    await sendMessage(dev, "crash test");
    await channel.waitUntil((r) => r.headers["ce-type"] === T.MESSAGE_SEND);
    await dev.idle();
    expect(crashes).toBe(1);
    expect(calls).toEqual({ get_pods: 1, status: 1 });
    expect(sendsOf(channel.received)).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
  });
});
