import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudEvent, HTTP } from "cloudevents";
import { afterEach, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { decodeMessage, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { EventRefused, verifyingTrust } from "../../../eventing/trust/event-trust.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import type { Logger } from "../../../runtime/log.ts";
import { argumentsDigest, generateSigningKey, parsePrivateKey, signSkillReply } from "../../../skills/runtime/index.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { devTrustEnv, roleKeys, signAs } from "../../support/event-keys.ts";

/**
 * The external skill's signing helper (skills/runtime/sign-reply.ts) with the official `cloudevents` SDK as the
 * oracle: the SDK builds and encodes the reply, knclaw decodes and verifies it as the agent does; then a skill written
 * as a knative/func Node function (a handler taking and returning the SDK's CloudEvent) answers a real tool call under
 * `knclaw dev`, and a tampered answer is refused.
 */
const SKILL = "search";
const skillKey = () => roleKeys(`skill/${SKILL}`).privateKeyPem;

function completed(overrides: Record<string, unknown> = {}): CloudEvent<Record<string, unknown>> {
  return new CloudEvent<Record<string, unknown>>({
    type: T.TOOL_COMPLETED,
    source: `/skills/${SKILL}`,
    datacontenttype: "application/json",
    data: {
      runId: "run-1",
      callId: "call-1",
      instance: "ops",
      skill: SKILL,
      tool: "lookup",
      attempt: 1,
      digest: argumentsDigest({ q: "knative" }),
      outcome: { ok: true, result: { hits: ["knative.dev"] } },
      durationMs: 3,
      ...overrides,
    },
  });
}

describe("signSkillReply, with the cloudevents SDK as the oracle", () => {
  const refusals: unknown[] = [];
  const log = { warn: (fields: unknown) => refusals.push(fields) } as unknown as Logger;
  const trust = () =>
    verifyingTrust(
      parseTrustBundle(
        JSON.stringify({
          [`skill/${SKILL}`]: roleKeys(`skill/${SKILL}`).publicKeyPem,
          "skill/web": roleKeys("skill/web").publicKeyPem,
        }),
        "test bundle",
      ),
      log,
    );
  const received = (message: { headers: Record<string, unknown>; body: unknown }) =>
    decodeMessage(
      String(message.headers["content-type"]).startsWith("application/cloudevents+json") ? "structured" : "binary",
      new Headers(message.headers as Record<string, string>),
      Buffer.from(message.body as string),
    );
  const reasonOf = (message: { headers: Record<string, unknown>; body: unknown }) => {
    try {
      trust().check(received(message));
      return "accepted";
    } catch (error) {
      if (error instanceof EventRefused) return error.reason;
      throw error;
    }
  };

  it("signs as skill/<name> and routes by the data, in binary and structured mode alike", () => {
    // The author forgot the routing extensions: the helper sets them from the data.
    const signed = signSkillReply(completed(), { skill: SKILL, key: skillKey() });
    expect(signed.knclawinstance).toBe("ops");
    expect(signed.knclawrun).toBe("run-1");
    expect(signed.knclawproducer).toBe(`skill/${SKILL}`);
    expect(signed).toBeInstanceOf(CloudEvent);
    expect(reasonOf(HTTP.binary(signed))).toBe("accepted");
    expect(reasonOf(HTTP.structured(signed))).toBe("accepted");
    // A KeyObject works as well as the Secret's text; signing again replaces the earlier signature.
    const again = signSkillReply(signed, { skill: SKILL, key: parsePrivateKey(skillKey()) });
    expect(reasonOf(HTTP.binary(again))).toBe("accepted");
  });

  it("is refused once tampered with: data, a routing extension, the producer, or another skill's key", () => {
    const signed = signSkillReply(completed(), { skill: SKILL, key: skillKey() });
    const tampered = signed.cloneWith({ data: { ...signed.data, outcome: { ok: true, result: { hits: ["evil"] } } } });
    expect(reasonOf(HTTP.binary(tampered))).toBe("bad_signature");
    expect(reasonOf(HTTP.binary(signed.cloneWith({ knclawrun: "run-2" })))).toBe("bad_signature");
    expect(reasonOf(HTTP.binary(signed.cloneWith({ knclawproducer: "skill/web" })))).toBe("unknown_key");
    // The web skill's real key answering a call that was sent to search.
    const byWeb = signSkillReply(completed(), { skill: "web", key: roleKeys("skill/web").privateKeyPem });
    expect(reasonOf(HTTP.binary(byWeb))).toBe("role_not_allowed");
    // search's role claimed with a key that is not search's.
    expect(
      reasonOf(HTTP.binary(signSkillReply(completed(), { skill: SKILL, key: generateSigningKey().privateKeyPem }))),
    ).toBe("unknown_key");
    expect(refusals).toHaveLength(5);
  });

  it("refuses to sign what no skill may answer with", () => {
    const key = skillKey();
    expect(() => signSkillReply(completed().cloneWith({ type: T.RUN_COMPLETED }), { skill: SKILL, key })).toThrow(
      /tool\.completed/,
    );
    expect(() =>
      signSkillReply(new CloudEvent({ type: T.TOOL_COMPLETED, source: "/s", data: "text" }), { skill: SKILL, key }),
    ).toThrow(/JSON object/);
    expect(() => signSkillReply(completed(), { skill: SKILL, key: "not a key" })).toThrow(/signing key/);
  });
});

/** A knative/func Node function: `handle(context, event)` returns the reply; the HTTP around it is the SDK's. */
type FuncHandler = (event: CloudEvent<Record<string, unknown>>) => CloudEvent<unknown>;

async function serveFunc(handle: FuncHandler): Promise<{ url: string; calls: number; server: Server }> {
  const state = { url: "", calls: 0, server: undefined as unknown as Server };
  state.server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const event = HTTP.toEvent({ headers: request.headers, body: Buffer.concat(chunks).toString() }) as CloudEvent<
        Record<string, unknown>
      >;
      state.calls += 1;
      const reply = HTTP.binary(handle(event));
      response.writeHead(200, reply.headers as Record<string, string>);
      response.end(reply.body as string);
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe("an external skill on knclaw dev, answering with the helper", () => {
  const agentKeys = generateSigningKey();
  let runtime: DevRuntime | undefined;
  let fake: FakeOpenAI | undefined;
  let channel: Subscriber | undefined;
  let func: Server | undefined;

  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
    await new Promise((resolve) => func?.close(resolve) ?? resolve(undefined));
    await channel?.close();
    await fake?.close();
  });

  /** The skill answers with `handle`'s reply, as a knative/func function returns it. */
  async function platformWith(handle: FuncHandler) {
    fake = await startFakeOpenAI({ apiKey: "not-needed" });
    fake.setResponder((request) => {
      const results = (request.body.messages as Array<{ role: string; content?: string }>).filter(
        (m) => m.role === "tool",
      );
      if (results.length === 0) {
        return {
          kind: "message",
          toolCalls: [{ id: "call_q", name: `${SKILL}__lookup`, arguments: '{"q":"knative"}' }],
        };
      }
      return { kind: "message", text: `Found: ${results.map((r) => r.content).join(" | ")}` };
    });
    channel = await startSubscriber();
    const skill = await serveFunc(handle);
    func = skill.server;
    const config = validateConfigValue({
      apiVersion: "knclaw.dev/v1alpha1",
      kind: "Platform",
      metadata: { name: "knclaw", namespace: "knclaw" },
      images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
      broker: { name: "default", deadLetterSink: { disabled: true } },
      memory: {},
      gateway: { enabled: false },
      policies: { default: { budgets: { toolCalls: 5 }, termination: { maxTurns: 3 } } },
      skills: {
        [SKILL]: {
          external: {
            url: skill.url,
            tools: [
              {
                name: "lookup",
                description: "Search",
                parameters: { type: "object", properties: { q: { type: "string" } } },
              },
            ],
          },
        },
      },
      instances: {
        ops: {
          model: "openai-compatible/gpt-test",
          provider: { baseUrl: fake.url },
          policy: "default",
          skills: [SKILL],
        },
      },
    });
    const catcher: KnativeObject = {
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: "test-channel-catcher", namespace: "knclaw" },
      spec: { broker: "default", filter: { attributes: { type: T.MESSAGE_SEND } }, subscriber: { uri: channel.url } },
    };
    runtime = await startDev({
      objects: [...(render(config) as unknown as KnativeObject[]), catcher],
      port: 0,
      schedulePings: false,
      drainTimeoutMs: 5_000,
      env: {
        KNCLAW_AGENT_KEYS_OPS: agentKeys.privateKeyPem,
        // The key `knclaw secrets generate` makes for the external skill, as the operator hands it over.
        ...devTrustEnv({ externalSkills: [SKILL], producers: ["channel/slack"] }),
      },
    });
    const message = makeEvent(T.MESSAGE_RECEIVED, {
      source: "/knclaw/channels/slack",
      data: {
        instance: "ops",
        channel: "slack",
        messageId: "m-1",
        conversation: "C1",
        sender: { channel: "slack", id: "U1" },
        text: "search knative",
        replyTo: { channel: "slack", conversation: "C1" },
        receivedAt: new Date().toISOString(),
      },
    });
    const { headers, body } = encodeEvent(signAs("channel/slack", message), "binary");
    const posted = await fetch(runtime.brokers[0]!.url, {
      method: "POST",
      headers,
      body: body as Uint8Array<ArrayBuffer>,
    });
    expect(posted.status).toBe(202);
    return { dev: runtime, skill, fake, channel };
  }

  /** The reply a skill written against the contract builds from the call (no routing extensions: the helper's job). */
  const answer = (call: CloudEvent<Record<string, unknown>>) =>
    new CloudEvent({
      type: T.TOOL_COMPLETED,
      source: `/skills/${SKILL}`,
      id: `done-${call.id}`,
      datacontenttype: "application/json",
      data: {
        runId: call.data!.runId,
        callId: call.data!.callId,
        instance: call.data!.instance,
        skill: SKILL,
        tool: call.data!.tool,
        attempt: call.data!.attempt,
        digest: argumentsDigest(call.data!.arguments),
        outcome: { ok: true, result: { hits: ["knative.dev"] } },
        durationMs: 1,
      },
    });

  it("a reply signed with signSkillReply is accepted by the agent and the run answers with it", async () => {
    const { dev, skill, fake, channel } = await platformWith((call) =>
      signSkillReply(answer(call), { skill: SKILL, key: skillKey() }),
    );
    const send = await channel.waitUntil((r) => r.headers["ce-type"] === T.MESSAGE_SEND);
    await dev.idle();
    expect(skill.calls).toBe(1);
    expect(JSON.parse(send.body.toString()).text).toContain("knative.dev");
    expect(fake.requests).toHaveLength(2);
  });

  it("a reply tampered with after signing is refused: the model never sees it and nothing is sent", async () => {
    const { dev, skill, fake, channel } = await platformWith((call) => {
      const signed = signSkillReply(answer(call), { skill: SKILL, key: skillKey() });
      return signed.cloneWith({ data: { ...signed.data!, outcome: { ok: true, result: { hits: ["evil.example"] } } } });
    });
    await dev.idle();
    expect(skill.calls).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(channel.received).toEqual([]);
    // The agent answered the reply's delivery 403 (not retried; no dead-letter sink here): dropped.
    expect(dev.counters.dropped).toBe(1);
  });
});
