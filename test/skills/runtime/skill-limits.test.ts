import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { makeEvent, readEvent, type ToolCompleted } from "../../../eventing/catalog/index.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { createApp as createMemoryApp } from "../../../functions/memory/app.ts";
import type { FunctionApp } from "../../../runtime/function.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { defineSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import { CallRecords } from "../../../skills/runtime/call-record.ts";
import {
  argumentsDigest,
  generateSigningKey,
  parsePrivateKey,
  serveSkill,
  signCapability,
} from "../../../skills/runtime/index.ts";
import { capResult, MAX_RESULT_BYTES } from "../../../skills/runtime/result-cap.ts";
import { roleKeys } from "../../support/event-keys.ts";

/**
 * What keeps a skill's reply acceptable to the broker and a redelivered mutating call from acting twice: results are
 * cut under MAX_RESULT_BYTES whatever the manifest allows (the truncation told in the result), and mutating calls are
 * recorded where every replica sees them (call-record.ts).
 */
const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
const env = {
  KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
  KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/bulk").privateKeyPem,
  NODE_ENV: "test",
};
/** Twice the broker's 4 MiB limit (the runaway suite goes to 50 MB over knclaw dev). */
const EIGHT_MB = 8 * 1024 * 1024;
let executions = { read: 0, write: 0 };
let releaseWrite: (() => void) | undefined;

const flags = { approval: false } as const;
const read = defineTool({ name: "read", description: "Reads 8 MB", input: z.object({}), mutates: false, ...flags });
const write = defineTool({
  name: "write",
  description: "Writes, answers 8 MB",
  input: z.object({}),
  mutates: true,
  ...flags,
});
const tools = [read, write] as const;

function bigSkill(options: { holdWrite?: boolean } = {}) {
  return defineSkill({
    name: "bulk",
    // The most a manifest may ask for: the runtime's own ceiling still applies.
    manifest: { maxOutputBytes: 4 * 1024 * 1024 },
    tools,
    handlers: {
      read: async () => {
        executions.read++;
        return { rows: "r".repeat(EIGHT_MB) };
      },
      write: async () => {
        executions.write++;
        if (options.holdWrite) await new Promise<void>((resolve) => (releaseWrite = resolve));
        return { written: true, echo: '"\u0001'.repeat(EIGHT_MB / 8) };
      },
    },
  });
}

/** A key-value state two replicas share, as the memory service would be; `down` makes every call fail. */
class SharedState implements KeyValueState {
  readonly values = new Map<string, string>();
  down = false;
  async setIfAbsent(key: string, value: string): Promise<boolean> {
    this.check();
    if (this.values.has(key)) return false;
    this.values.set(key, value);
    return true;
  }
  async get(key: string): Promise<string | undefined> {
    this.check();
    return this.values.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.check();
    this.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.check();
    this.values.delete(key);
  }
  private check(): void {
    if (this.down) throw new Error("memory service unreachable");
  }
}

let sequence = 0;
function toolRequest(tool: string): CloudEvent {
  sequence += 1;
  const callId = `call-${sequence}`;
  const token = signCapability(
    { runId: "run-1", instance: "ops", skill: "bulk", tool, callId, digest: argumentsDigest({}) },
    signing,
  );
  const event = makeEvent(TOOL_REQUESTED, {
    id: `req-${sequence}`,
    source: "/agents/ops",
    data: { runId: "run-1", callId, instance: "ops", skill: "bulk", tool, arguments: {}, token },
  });
  return eventSigner("agent/ops", signing).sign(event);
}

async function post(app: FunctionApp, event: CloudEvent) {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await app.fetch(
    new Request("http://skill/", { method: "POST", headers, body: body as ConstructorParameters<typeof Response>[0] }),
  );
  const bytes = new Uint8Array(await response.arrayBuffer());
  const reply = decodeMessageIfAny(response.headers, bytes);
  return {
    status: response.status,
    bytes: bytes.byteLength,
    completed: reply ? (readEvent(reply, TOOL_COMPLETED) as ToolCompleted) : undefined,
  };
}

describe("result cap", () => {
  it("cuts an 8 MB result, read-only or mutating, under the ceiling however its text escapes, and says so", async () => {
    executions = { read: 0, write: 0 };
    const app = serveSkill(bigSkill(), { env });
    for (const tool of ["read", "write"]) {
      const { status, bytes, completed } = await post(app, toolRequest(tool));
      expect(status).toBe(200);
      expect(bytes).toBeLessThan(MAX_RESULT_BYTES + 2048);
      expect(completed!.outcome).toMatchObject({
        ok: true,
        result: { truncated: true, limitBytes: MAX_RESULT_BYTES, note: expect.stringContaining("succeeded") },
      });
      const result = (completed!.outcome as { result: { outputBytes: number } }).result;
      expect(result.outputBytes).toBeGreaterThan(EIGHT_MB / 8);
    }
    expect(executions).toEqual({ read: 1, write: 1 });
  });

  it("keeps a result that fits as it is, and never ends a preview on half a surrogate pair", () => {
    expect(capResult({ a: [1, "two"] }, 1024)).toEqual({ ok: true, result: { a: [1, "two"] } });
    expect(capResult(undefined, 1024)).toEqual({ ok: true, result: null });
    const emoji = capResult("😀".repeat(2000), 1024);
    const preview = (emoji as { result: { preview: string } }).result.preview;
    expect(preview.length % 2).toBe(1); // the opening quote plus whole pairs
    expect(Buffer.byteLength(JSON.stringify((emoji as { result: unknown }).result))).toBeLessThanOrEqual(1024);
    expect(capResult({ self: BigInt(1) }, 1024)).toMatchObject({ ok: false, error: { class: "Internal" } });
  });
});

describe("mutating calls recorded across replicas", () => {
  it("a redelivery to another replica answers from the record; only the mutating tool is recorded", async () => {
    executions = { read: 0, write: 0 };
    const shared = new SharedState();
    const replicaA = serveSkill(bigSkill(), { env, callRecords: new CallRecords(shared) });
    const replicaB = serveSkill(bigSkill(), { env, callRecords: new CallRecords(shared) });
    const call = toolRequest("write");
    const first = await post(replicaA, call);
    const again = await post(replicaB, call);
    expect(executions.write).toBe(1);
    expect(again.completed!.outcome).toMatchObject({ ok: true, result: { truncated: true } });
    expect(first.completed!.outcome).toMatchObject({ ok: true, result: { truncated: true } });
    // The record holds a smaller cut than the reply: it must fit one memory-service value (64 KiB).
    const [record] = [...shared.values.values()];
    expect(record!.length).toBeLessThanOrEqual(65_536);

    const reading = toolRequest("read");
    await post(replicaA, reading);
    await post(replicaB, reading);
    expect(executions.read).toBe(2);
    expect(shared.values.size).toBe(1);
  });

  it("a redelivery while the call still runs elsewhere is a 409 (the broker retries it), not a second run", async () => {
    executions = { read: 0, write: 0 };
    const shared = new SharedState();
    const replicaA = serveSkill(bigSkill({ holdWrite: true }), { env, callRecords: new CallRecords(shared) });
    const replicaB = serveSkill(bigSkill({ holdWrite: true }), { env, callRecords: new CallRecords(shared) });
    const call = toolRequest("write");
    const first = post(replicaA, call);
    while (releaseWrite === undefined) await new Promise((resolve) => setImmediate(resolve));
    const during = await post(replicaB, call);
    expect(during.status).toBe(409);
    releaseWrite();
    releaseWrite = undefined;
    expect((await first).completed!.outcome.ok).toBe(true);
    expect((await post(replicaB, call)).completed!.outcome.ok).toBe(true);
    expect(executions.write).toBe(1);
  });

  it("when the record cannot be reached a mutating tool does not run: a retryable Unavailable; a read-only one runs", async () => {
    executions = { read: 0, write: 0 };
    const shared = new SharedState();
    shared.down = true;
    const app = serveSkill(bigSkill(), { env, callRecords: new CallRecords(shared) });
    const { completed } = await post(app, toolRequest("write"));
    expect(completed!.outcome).toMatchObject({ ok: false, error: { class: "Unavailable", retryable: true } });
    expect(executions.write).toBe(0);
    expect((await post(app, toolRequest("read"))).completed!.outcome.ok).toBe(true);
    expect(executions.read).toBe(1);
  });
});

describe("call records in the memory service", () => {
  const SECRET = "skill-limits-test-secret-0123456789";
  let memory: Served;
  beforeAll(async () => {
    const app = await createMemoryApp({
      KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
      KNCLAW_MEMORY_BACKEND: "embedded",
      NODE_ENV: "test",
    });
    memory = await serve(app, { port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await memory.shutdown();
  });

  it("replicas configured by env (memory URL and the skill's token) share the record of a mutating call", async () => {
    executions = { read: 0, write: 0 };
    const skillEnv = {
      ...env,
      KNCLAW_MEMORY_URL: memory.url,
      KNCLAW_MEMORY_TOKEN: mintMemoryToken(SECRET, { kind: "notes", name: "bulk" }),
    };
    const replicaA = serveSkill(bigSkill(), { env: skillEnv });
    const replicaB = serveSkill(bigSkill(), { env: skillEnv });
    const call = toolRequest("write");
    expect((await post(replicaA, call)).completed!.outcome.ok).toBe(true);
    expect((await post(replicaB, call)).completed!.outcome).toMatchObject({ ok: true, result: { truncated: true } });
    expect(executions.write).toBe(1);
  });
});
