import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { derivedEventId, makeEvent, readEvent, type ToolCompleted } from "../../../eventing/catalog/index.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../../eventing/catalog/types.ts";
import { type CloudEvent, jsonBytes, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner, verifyEventSignature } from "../../../eventing/trust/event-signature.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { defineSkill, describeSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import {
  argumentsDigest,
  DESCRIBE_PATH,
  fail,
  generateSigningKey,
  parsePrivateKey,
  serveSkill,
  signCapability,
} from "../../../skills/runtime/index.ts";
import { roleKeys, signAs, trustBundle } from "../../support/event-keys.ts";

const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
/** The agent of another instance: the skill trusts it, but only for its own instance. */
const rivalKeys = generateSigningKey();
const asAgent = eventSigner("agent/ops", signing);
const calls: Record<string, number> = {};
let releaseSlow: (() => void) | undefined;
let slowStarted: () => void = () => undefined;
const slowRunning = new Promise<void>((resolve) => {
  slowStarted = resolve;
});

const flags = { mutates: false, approval: false };
const add = defineTool({
  name: "add",
  description: "Add two numbers",
  input: z.object({ a: z.number(), b: z.number() }),
  ...flags,
});
const limited = defineTool({ name: "limited", description: "Always rate limited", input: z.object({}), ...flags });
const crash = defineTool({
  name: "crash",
  description: "Throws an untyped error carrying a secret",
  input: z.object({}),
  ...flags,
});
const hang = defineTool({
  name: "hang",
  description: "Never answers before its timeout",
  input: z.object({}),
  ...flags,
  timeoutSeconds: 0.1,
});
const huge = defineTool({
  name: "huge",
  description: "Answers more than the output cap",
  input: z.object({}),
  ...flags,
});
const slow = defineTool({
  name: "slow",
  description: "Waits until the test releases it",
  input: z.object({}),
  ...flags,
});
const tools = [add, limited, crash, hang, huge, slow] as const;

const skill = defineSkill({
  name: "demo",
  instructions: "Use demo tools.",
  manifest: { maxOutputBytes: 1024 },
  tools,
  handlers: {
    add: async ({ a, b }) => {
      calls.add = (calls.add ?? 0) + 1;
      return { sum: a + b };
    },
    limited: async () => {
      throw fail.rateLimited("slow down", 7);
    },
    crash: async () => {
      throw new Error("password=hunter2");
    },
    hang: (_args, context) =>
      new Promise((_resolve, reject) => context.signal.addEventListener("abort", () => reject(new Error("aborted")))),
    huge: async () => ({ blob: "x".repeat(4096) }),
    slow: () =>
      new Promise((resolve) => {
        calls.slow = (calls.slow ?? 0) + 1;
        releaseSlow = () => resolve("done");
        slowStarted();
      }),
  },
});

let served: Served;
beforeAll(async () => {
  const env = {
    KNCLAW_AGENT_KEYS: JSON.stringify({ ops: keys.publicKeyPem, rival: rivalKeys.publicKeyPem }),
    KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/demo").privateKeyPem,
    NODE_ENV: "test",
  };
  served = await serve(serveSkill(skill, { env }), { port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await served.shutdown();
});

let sequence = 0;
function toolRequest(
  tool: string,
  args: unknown,
  overrides: { token?: string; skill?: string; signedArgs?: unknown } = {},
) {
  sequence += 1;
  const callId = `call-${sequence}`;
  const token =
    overrides.token ??
    signCapability(
      {
        runId: "run-1",
        instance: "ops",
        skill: "demo",
        tool,
        callId,
        digest: argumentsDigest(overrides.signedArgs ?? args),
      },
      signing,
    );
  return asAgent.sign(unsignedToolRequest(tool, args, callId, token, overrides.skill));
}

function unsignedToolRequest(tool: string, args: unknown, callId: string, token: string, skill = "demo") {
  return makeEvent(TOOL_REQUESTED, {
    id: `req-${callId}`,
    source: "/agents/ops",
    data: { runId: "run-1", callId, instance: "ops", skill, tool, arguments: args, token },
  });
}

async function post(event: CloudEvent): Promise<{ status: number; reply?: CloudEvent; completed?: ToolCompleted }> {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await fetch(`${served.url}/`, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const reply = decodeMessageIfAny(response.headers, bytes);
  if (!reply) return { status: response.status };
  return { status: response.status, reply, completed: readEvent(reply, TOOL_COMPLETED) };
}

describe("serveSkill", () => {
  it("runs a call with a valid token and replies tool.completed routed back to the instance", async () => {
    const request = toolRequest("add", { a: 2, b: 3 });
    const { status, reply, completed } = await post(request);
    expect(status).toBe(200);
    expect(reply!.attributes).toMatchObject({
      type: TOOL_COMPLETED,
      id: derivedEventId("tool.completed", request.attributes.id!),
      knclawinstance: "ops",
      knclawrun: "run-1",
      knclawproducer: "skill/demo",
    });
    expect(completed).toMatchObject({
      callId: "call-1",
      tool: "add",
      digest: argumentsDigest({ a: 2, b: 3 }),
      outcome: { ok: true, result: { sum: 5 } },
    });
    // Signed as the skill, with the key the agent's trust bundle holds for it.
    expect(verifyEventSignature(reply!, parseTrustBundle(trustBundle(["skill/demo"]), "bundle"))).toEqual({
      ok: true,
      role: "skill/demo",
    });
  });

  it("runs the tool once when the same delivery arrives three times, answering each the same", async () => {
    const before = calls.add ?? 0;
    const request = toolRequest("add", { a: 1, b: 1 });
    const replies = await Promise.all([post(request), post(request), post(request)]);
    expect(calls.add).toBe(before + 1);
    expect(new Set(replies.map((r) => r.reply!.attributes.id)).size).toBe(1);
    expect(replies.every((r) => r.completed!.outcome.ok)).toBe(true);
  });

  it("shares one execution between concurrent duplicates still in flight", async () => {
    const request = toolRequest("slow", {});
    const first = post(request);
    const second = post(request);
    await slowRunning;
    releaseSlow!();
    const [a, b] = await Promise.all([first, second]);
    expect(calls.slow).toBe(1);
    expect(a.completed!.outcome).toEqual({ ok: true, result: "done" });
    expect(b.reply!.attributes.id).toBe(a.reply!.attributes.id);
  });

  it("refuses a call whose token covers other arguments, without running it", async () => {
    const before = calls.add ?? 0;
    const { completed } = await post(toolRequest("add", { a: 100, b: 1 }, { signedArgs: { a: 1, b: 1 } }));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied", retryable: false } });
    expect(calls.add).toBe(before);
  });

  it("refuses a missing-in-effect, forged or foreign token", async () => {
    const forged = await post(toolRequest("add", { a: 1, b: 2 }, { token: "kc1.e30.AAAA" }));
    expect(forged.completed!.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
    const intruder = parsePrivateKey(generateSigningKey().privateKeyPem);
    const foreignToken = signCapability(
      {
        runId: "run-1",
        instance: "ops",
        skill: "demo",
        tool: "add",
        callId: "call-x",
        digest: argumentsDigest({ a: 1, b: 2 }),
      },
      intruder,
    );
    const foreign = await post(toolRequest("add", { a: 1, b: 2 }, { token: foreignToken }));
    expect(foreign.completed!.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
  });

  it("answers an expired token with a retryable AuthExpired", async () => {
    sequence += 1;
    const callId = `call-${sequence}`;
    const token = signCapability(
      { runId: "run-1", instance: "ops", skill: "demo", tool: "add", callId, digest: argumentsDigest({ a: 1, b: 2 }) },
      signing,
      { now: Date.now() - 3_600_000, ttlSeconds: 60 },
    );
    const { completed } = await post(asAgent.sign(unsignedToolRequest("add", { a: 1, b: 2 }, callId, token)));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "AuthExpired", retryable: true } });
  });

  it("refuses a call meant for another skill", async () => {
    const { completed } = await post(toolRequest("add", { a: 1, b: 2 }, { skill: "other" }));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
  });

  it("answers invalid arguments with ValidationFailed and the issues", async () => {
    const { completed } = await post(toolRequest("add", { a: "two", b: 3 }));
    expect(completed!.outcome).toMatchObject({
      ok: false,
      error: { class: "ValidationFailed", retryable: false, details: { issues: [{ path: "a" }] } },
    });
  });

  it("answers an unknown tool with NotFound", async () => {
    const { completed } = await post(toolRequest("nope", {}));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "NotFound" } });
  });

  it("passes typed errors through with retry-after", async () => {
    const { completed } = await post(toolRequest("limited", {}));
    expect(completed!.outcome).toEqual({
      ok: false,
      error: { class: "RateLimited", message: "slow down", retryable: true, retryAfterSeconds: 7 },
    });
  });

  it("turns an untyped throw into Internal without leaking its message", async () => {
    const { completed } = await post(toolRequest("crash", {}));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "Internal", retryable: false } });
    expect(JSON.stringify(completed)).not.toContain("hunter2");
  });

  it("enforces the tool's timeout and aborts the handler", async () => {
    const { completed } = await post(toolRequest("hang", {}));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "Timeout", retryable: true } });
  });

  it("enforces the output size cap: the result is cut to the limit and the model is told so", async () => {
    const { completed } = await post(toolRequest("huge", {}));
    expect(completed!.outcome).toMatchObject({
      ok: true,
      result: { truncated: true, limitBytes: 1024, outputBytes: 4107 },
    });
    const result = (completed!.outcome as { result: { preview: string } }).result;
    expect(result.preview.startsWith('{"blob":"xxx')).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThanOrEqual(1024);
  });

  it("answers 400 to anything that is not a valid tool.requested", async () => {
    const notEvent = await fetch(`${served.url}/`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(notEvent.status).toBe(400);
    const other = makeEvent("dev.knclaw.message.send", {
      source: "/x",
      data: { instance: "ops", route: { channel: "slack", conversation: "C1" }, text: "hi", idempotencyKey: "k" },
    });
    expect((await post(asAgent.sign(other))).status).toBe(400);
    const request = toolRequest("add", { a: 1, b: 2 });
    const broken = {
      attributes: request.attributes,
      data: new TextEncoder().encode('{"instance":"ops","runId":"run-1","skill":"demo"}'),
    };
    expect((await post(asAgent.sign(broken))).status).toBe(400);
  });

  it("serves probes and describes its tools as JSON Schema", async () => {
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${served.url}/readyz`)).status).toBe(200);
    const description = await (await fetch(`${served.url}${DESCRIBE_PATH}`)).json();
    expect(description).toMatchObject({
      name: "demo",
      instructions: "Use demo tools.",
      tools: expect.arrayContaining([
        expect.objectContaining({
          name: "add",
          inputSchema: expect.objectContaining({ type: "object", required: ["a", "b"] }),
        }),
      ]),
    });
  });
});

describe("who may call a skill: only the agent of the call's instance, with the event as it signed it", () => {
  /** Each forgery is answered 403 (never retried), with no reply, and the tool never runs. */
  async function refused(event: CloudEvent, reason: string): Promise<void> {
    const before = calls.add ?? 0;
    const { status, reply } = await post(event);
    expect(status).toBe(403);
    expect(reply).toBeUndefined();
    expect(calls.add ?? 0).toBe(before);
    const response = await fetch(`${served.url}/`, { method: "POST", ...encodeEvent(event, "binary") } as RequestInit);
    expect(((await response.json()) as { error: { reason: string } }).error.reason).toBe(reason);
  }
  const unsigned = () => {
    sequence += 1;
    const callId = `forged-${sequence}`;
    const token = signCapability(
      { runId: "run-1", instance: "ops", skill: "demo", tool: "add", callId, digest: argumentsDigest({ a: 1, b: 2 }) },
      signing,
    );
    return unsignedToolRequest("add", { a: 1, b: 2 }, callId, token);
  };

  it("refuses an unsigned call, even with a valid capability token", async () => {
    await refused(unsigned(), "unsigned");
  });

  it("refuses a call signed with a key it does not trust", async () => {
    const stranger = eventSigner("agent/ops", parsePrivateKey(generateSigningKey().privateKeyPem));
    await refused(stranger.sign(unsigned()), "unknown_key");
  });

  it("refuses a call signed by a role that may not emit tool.requested", async () => {
    await refused(signAs("gateway", unsigned()), "unknown_key");
    const asSkill = eventSigner("skill/demo", parsePrivateKey(roleKeys("skill/demo").privateKeyPem));
    await refused(asSkill.sign(unsigned()), "unknown_key");
  });

  it("refuses the agent of one instance calling for another", async () => {
    const rival = eventSigner("agent/rival", parsePrivateKey(rivalKeys.privateKeyPem));
    await refused(rival.sign(unsigned()), "role_not_allowed");
  });

  it("refuses a call whose data or routing extensions changed after signing", async () => {
    const signed = asAgent.sign(unsigned());
    const data = JSON.parse(new TextDecoder().decode(signed.data)) as Record<string, unknown>;
    await refused({ ...signed, data: jsonBytes({ ...data, arguments: { a: 1000, b: 2 } }) }, "bad_signature");
    await refused(withAttributes(signed, { knclawskill: "other" }), "bad_signature");
    await refused(withAttributes(signed, { knclawrun: "run-2" }), "bad_signature");
    // Claiming another producer: that role's keys do not include the signing key.
    await refused(withAttributes(signed, { knclawproducer: "agent/rival" }), "unknown_key");
  });
});

describe("defineSkill", () => {
  it("binds exactly one handler to each declared tool", () => {
    const parts = { name: "s", manifest: {}, tools: [add] as const };
    const sum = async () => 1;
    expect(defineSkill({ ...parts, handlers: { add: sum } }).tools.map((tool) => tool.name)).toEqual(["add"]);
    // What the compiler already refuses in TypeScript, checked again for skills assembled at run time.
    expect(() => defineSkill({ ...parts, handlers: {} as never })).toThrow(/no handler for tool add/);
    expect(() => defineSkill({ ...parts, handlers: { add: sum, extra: sum } as never })).toThrow(/extra/);
    expect(() => defineSkill({ ...parts, tools: [add, add], handlers: { add: sum } })).toThrow(/twice/);
    expect(() => defineSkill({ ...parts, name: "Not_A_Label", handlers: { add: sum } })).toThrow();
  });

  it("applies the manifest's limits, a tool's own timeout first, and tells agents the same", () => {
    const served = defineSkill({
      name: "s",
      manifest: { timeoutSeconds: 20, maxOutputBytes: 2048 },
      tools: [add, hang],
      handlers: { add: async () => 1, hang: async () => 1 },
    });
    expect(served).toMatchObject({ timeoutSeconds: 20, maxOutputBytes: 2048 });
    expect(describeSkill(served).tools.map((tool) => tool.timeoutSeconds)).toEqual([20, 0.1]);
  });
});
