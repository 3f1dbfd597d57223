import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { derivedEventId, makeEvent, readEvent, type ToolCompleted } from "../../../eventing/catalog/index.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
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

const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
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
  served = await serve(serveSkill(skill, { env: { KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem, NODE_ENV: "test" } }), {
    port: 0,
    host: "127.0.0.1",
  });
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
  return makeEvent(TOOL_REQUESTED, {
    id: `req-${sequence}`,
    source: "/agents/ops",
    data: { runId: "run-1", callId, instance: "ops", skill: overrides.skill ?? "demo", tool, arguments: args, token },
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
    });
    expect(completed).toMatchObject({ callId: "call-1", tool: "add", outcome: { ok: true, result: { sum: 5 } } });
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
    const event = makeEvent(TOOL_REQUESTED, {
      source: "/agents/ops",
      data: { runId: "run-1", callId, instance: "ops", skill: "demo", tool: "add", arguments: { a: 1, b: 2 }, token },
    });
    const { completed } = await post(event);
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
    expect((await post(other)).status).toBe(400);
    const request = toolRequest("add", { a: 1, b: 2 });
    const broken = { attributes: request.attributes, data: new TextEncoder().encode('{"runId":"r"}') };
    expect((await post(broken)).status).toBe(400);
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
