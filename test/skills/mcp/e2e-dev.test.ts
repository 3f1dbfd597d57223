import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { generateSigningKey, parsePrivateKey } from "../../../runtime/keys.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { devTrustEnv, signAs } from "../../support/event-keys.ts";
import { signedToolRequest } from "../support/call.ts";
import {
  childrenRunning,
  EVERYTHING,
  FILESYSTEM,
  type HttpEverything,
  startEverythingHttp,
} from "./support/servers.ts";

/**
 * MCP servers as skills, end to end on `knclaw dev`: the published server-filesystem and server-everything (stdio)
 * and server-everything over Streamable HTTP, each rendered from knclaw.yaml into its skill function and mounted as
 * in production; the agent learns their tools from the skill functions and calls them through the broker, driven by
 * the fake OpenAI-compatible provider. One message.received goes in; everything else happens by Trigger.
 */
type Reply = Parameters<FakeOpenAI["setResponder"]>[0];

const dir = mkdtempSync(join(tmpdir(), "knclaw-mcp-e2e-"));
/** The agent's signing key, given to knclaw dev so the test can sign as the agent (a well-signed call, forged token). */
const agentKeys = generateSigningKey();
let http: HttpEverything;
let fake: FakeOpenAI;
let channel: Subscriber;
let runtime: DevRuntime | undefined;
let sequence = 0;

beforeAll(async () => {
  http = await startEverythingHttp();
  fake = await startFakeOpenAI({ apiKey: "not-needed" });
  channel = await startSubscriber();
});

afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
  channel.received.length = 0;
  fake.requests.length = 0;
});

afterAll(async () => {
  await channel.close();
  await fake.close();
  await http.close();
  rmSync(dir, { recursive: true, force: true });
});

function platformObjects(): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 2, backoffPolicy: "linear", backoffDelay: "PT0.05S", timeout: "PT60S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    gateway: { enabled: false },
    policies: {
      default: {
        tools: { allow: ["files.*", "everything.*", "remote.*"], deny: ["files.create_directory"] },
        budgets: { toolCalls: 10 },
        termination: { maxTurns: 6, maxConsecutiveToolFailures: 3 },
      },
    },
    skills: {
      files: { mcp: { transport: "stdio", command: process.execPath, args: [FILESYSTEM, dir], deny: ["move_file"] } },
      everything: {
        mcp: {
          transport: "stdio",
          command: process.execPath,
          args: [EVERYTHING, "stdio"],
          allow: ["echo", "trigger-long-running-operation"],
          timeoutSeconds: 60,
        },
      },
      remote: { mcp: { transport: "http", url: http.url, allow: ["get-sum"] } },
    },
    instances: {
      ops: {
        model: "openai-compatible/gpt-test",
        provider: { baseUrl: fake.url },
        policy: "default",
        skills: ["files", "everything", "remote"],
      },
    },
  });
  const objects = render(config) as unknown as KnativeObject[];
  const catch_ = (name: string, type: string): KnativeObject => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name, namespace: "knclaw" },
    spec: { broker: "default", filter: { attributes: { type } }, subscriber: { uri: channel.url } },
  });
  return [
    ...objects,
    catch_("test-sends", T.MESSAGE_SEND),
    catch_("test-approvals", T.APPROVAL_REQUESTED),
    catch_("test-completions", T.TOOL_COMPLETED),
  ];
}

/** Counts the tool.requested deliveries that reach a skill function, and what it answered them. */
function countDeliveries(dev: DevRuntime, ksvc: string): { count: number; statuses: number[] } {
  const counter = { count: 0, statuses: [] as number[] };
  const handler = dev.functions.find((fn) => fn.name === ksvc)!.mounted.handler;
  const real = handler.fetch.bind(handler);
  handler.fetch = async (request: Request) => {
    const call = request.method === "POST" && request.headers.get("ce-type") === T.TOOL_REQUESTED;
    if (call) counter.count += 1;
    const response = await real(request);
    if (call) counter.statuses.push(response.status);
    return response;
  };
  return counter;
}

async function start(processes = false): Promise<DevRuntime> {
  runtime = await startDev({
    objects: platformObjects(),
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    processes,
    env: {
      PATH: process.env.PATH,
      KNCLAW_AGENT_KEYS_OPS: agentKeys.privateKeyPem,
      // The Slack adapter this test plays.
      ...devTrustEnv({ producers: ["channel/slack"] }),
    },
  });
  return runtime;
}

/** Into the broker, signed by the producer the catalog expects unless the test signed it already. */
async function post(dev: DevRuntime, event: CloudEvent): Promise<void> {
  const signed = event.attributes.knclawsignature === undefined ? signAs("channel/slack", event) : event;
  const { headers, body } = encodeEvent(signed, "binary");
  const response = await fetch(dev.brokers[0]!.url, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  expect(response.status).toBe(202);
}

async function sendMessage(dev: DevRuntime, text: string): Promise<void> {
  sequence += 1;
  await post(
    dev,
    makeEvent(T.MESSAGE_RECEIVED, {
      source: "/knclaw/channels/slack",
      data: {
        instance: "ops",
        channel: "slack",
        messageId: `mcp-e2e-${sequence}-${Date.now()}`,
        conversation: "C1",
        sender: { channel: "slack", id: "U1" },
        text,
        replyTo: { channel: "slack", conversation: "C1" },
        receivedAt: new Date().toISOString(),
      },
    }),
  );
}

/** A scripted model: turn n answers with `turns[n]` (tool calls), and after them with a text of every tool result. */
function script(turns: Array<Array<{ name: string; arguments: Record<string, unknown> }>>): Reply {
  return (request) => {
    const messages = request.body.messages as Array<{ role: string; content?: string }>;
    const assistantTurns = messages.filter((m) => m.role === "assistant").length;
    const calls = turns[assistantTurns];
    if (calls !== undefined) {
      return {
        kind: "message",
        toolCalls: calls.map((call, index) => ({
          id: `call_${assistantTurns}_${index}`,
          name: call.name,
          arguments: JSON.stringify(call.arguments),
        })),
      };
    }
    const results = messages.filter((m) => m.role === "tool").map((m) => m.content);
    return { kind: "message", text: `Results: ${results.join(" | ")}` };
  };
}

const ofType = (type: string) => (r: Received) => r.headers["ce-type"] === type;
const body = (r: Received) => JSON.parse(r.body.toString()) as Record<string, unknown>;

describe("MCP servers as skills on knclaw dev", () => {
  it("offers the discovered tools to the model and calls them over stdio and Streamable HTTP", async () => {
    fake.setResponder(
      script([
        [
          { name: "everything__echo", arguments: { message: "hi" } },
          { name: "remote__get-sum", arguments: { a: 2, b: 3 } },
        ],
      ]),
    );
    const dev = await start();
    await sendMessage(dev, "echo and add");
    const send = await channel.waitUntil(ofType(T.MESSAGE_SEND));
    await dev.idle();
    const offered = (fake.requests[0]!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    expect(offered).toEqual(
      expect.arrayContaining(["everything__echo", "remote__get-sum", "files__write_file", "files__read_text_file"]),
    );
    expect(offered).not.toContain("files__move_file");
    expect(offered).not.toContain("remote__echo");
    const text = body(send).text as string;
    expect(text).toContain("Echo: hi");
    expect(text).toContain("5");
  });

  it("runs the MCP skill functions as child processes too (knclaw dev --processes)", async () => {
    fake.setResponder(script([[{ name: "everything__echo", arguments: { message: "from a child" } }]]));
    const dev = await start(true);
    await sendMessage(dev, "echo from a child process");
    const send = await channel.waitUntil(ofType(T.MESSAGE_SEND));
    await dev.idle();
    expect(body(send).text).toContain("Echo: from a child");
  });

  it("holds a destructive filesystem tool for approval and runs it exactly once after it", async () => {
    const path = join(dir, "approved.txt");
    fake.setResponder(script([[{ name: "files__write_file", arguments: { path, content: "approved" } }]]));
    const dev = await start();
    const deliveries = countDeliveries(dev, "skill-files");
    await sendMessage(dev, "write the file");
    const asked = body(await channel.waitUntil(ofType(T.APPROVAL_REQUESTED)));
    await dev.idle();
    expect(existsSync(path)).toBe(false);
    expect(deliveries.count).toBe(0);
    await post(
      dev,
      makeEvent(T.APPROVAL_DECIDED, {
        source: "/knclaw/channels/slack",
        data: {
          approvalId: asked.approvalId as string,
          runId: asked.runId as string,
          callId: asked.callId as string,
          instance: "ops",
          digest: asked.digest as string,
          decision: "approve",
          decidedBy: { channel: "slack", id: "U1" },
        },
      }),
    );
    await channel.waitUntil(ofType(T.MESSAGE_SEND));
    await dev.idle();
    expect(readFileSync(path, "utf8")).toBe("approved");
    expect(deliveries.count).toBe(1);
  });

  it("never lets a policy-denied tool reach the server", async () => {
    const denied = join(dir, "denied-dir");
    fake.setResponder(script([[{ name: "files__create_directory", arguments: { path: denied } }]]));
    const dev = await start();
    const deliveries = countDeliveries(dev, "skill-files");
    await sendMessage(dev, "make a directory");
    const send = await channel.waitUntil(ofType(T.MESSAGE_SEND));
    await dev.idle();
    expect(body(send).text).toContain("PermissionDenied");
    expect(deliveries.count).toBe(0);
    expect(existsSync(denied)).toBe(false);
  });

  it("never lets a forged call or a forged capability token reach the server", async () => {
    const path = join(dir, "forged.txt");
    const dev = await start();
    const deliveries = countDeliveries(dev, "skill-files");
    const forger = parsePrivateKey(generateSigningKey().privateKeyPem);
    // A call the forger signed itself: the skill refuses it (403, not retried) before reading its token.
    const forged = signedToolRequest(
      {
        runId: "run-forged",
        callId: "call-forged",
        instance: "ops",
        skill: "files",
        tool: "write_file",
        arguments: { path, content: "forged" },
      },
      forger,
    );
    await post(dev, forged);
    await dev.idle();
    expect(deliveries.statuses).toEqual([403]);
    expect(channel.received.filter(ofType(T.TOOL_COMPLETED))).toHaveLength(0);
    // A token that is no signature at all, in a call the agent's own key signed: refused by the token check.
    const garbage = signedToolRequest(
      {
        runId: "run-forged",
        callId: "call-garbage",
        instance: "ops",
        skill: "files",
        tool: "write_file",
        arguments: { path, content: "garbage" },
      },
      forger,
    );
    const data = JSON.parse(new TextDecoder().decode(garbage.data as Uint8Array)) as Record<string, unknown>;
    data.token = "kc1.e30.AAAA";
    const asAgent = eventSigner("agent/ops", parsePrivateKey(agentKeys.privateKeyPem));
    await post(dev, asAgent.sign({ ...garbage, data: new TextEncoder().encode(JSON.stringify(data)) }));
    const refused = body(
      await channel.waitUntil((r) => ofType(T.TOOL_COMPLETED)(r) && body(r).callId === "call-garbage"),
    );
    expect(refused.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
    await dev.idle();
    expect(existsSync(path)).toBe(false);
  });

  it("answers a server that dies mid-call with a typed error, and the run goes on with a restarted server", async () => {
    fake.setResponder(
      script([
        [{ name: "everything__trigger-long-running-operation", arguments: { duration: 30, steps: 30 } }],
        [{ name: "everything__echo", arguments: { message: "after" } }],
      ]),
    );
    const dev = await start();
    const deliveries = countDeliveries(dev, "skill-everything");
    await sendMessage(dev, "run long");
    // The server starts with the call: kill every copy of it the moment the call is in flight.
    const killed = new Promise<void>((resolve) => {
      const watch = setInterval(() => {
        const pids = deliveries.count > 0 ? childrenRunning(EVERYTHING) : [];
        if (pids.length === 0) return;
        for (const pid of pids) process.kill(pid, "SIGKILL");
        clearInterval(watch);
        resolve();
      }, 20);
    });
    await killed;
    const send = await channel.waitUntil(ofType(T.MESSAGE_SEND));
    await dev.idle();
    const text = body(send).text as string;
    expect(text).toContain("Unavailable");
    expect(text).toContain("Echo: after");
  });
});
