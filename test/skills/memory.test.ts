import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryClient } from "../../clients/memory/client.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import type { ToolCompleted } from "../../eventing/catalog/index.ts";
import { createApp as createMemoryService } from "../../functions/memory/app.ts";
import type { FunctionApp } from "../../runtime/function.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { type Served, serve } from "../../runtime/serve.ts";
import { createApp as createMemorySkillApp } from "../../skills/memory/app.ts";
import { createMemoryHandlers, noteIdFor } from "../../skills/memory/handlers.ts";
import { ToolFailure } from "../../skills/runtime/tool-error.ts";
import { roleKeys } from "../support/event-keys.ts";
import { postToolRequest, signedToolRequest } from "./support/call.ts";
import { toolContext } from "./support/context.ts";

/**
 * The memory skill against the real memory service (its HTTP app on loopback, embedded store), holding a
 * notes-scoped token that could open any instance's notes: the skill itself must keep each call inside the instance
 * its capability token names.
 */
const SECRET = "memory-skill-test-secret-0123456789";
let service: Served;
let client: MemoryClient;
let handlers: ReturnType<typeof createMemoryHandlers>;
// Named after the skill, as knative/secrets/memory-scope.ts mints it: it also opens the skill's own call records.
const skillToken = mintMemoryToken(SECRET, { kind: "notes", name: "memory" });
const ctx = (instance: string, callId = `c-${Math.random().toString(36).slice(2)}`) =>
  toolContext({ instance, skill: "memory", runId: "run-1", callId });

async function failure(promise: Promise<unknown>): Promise<ToolFailure> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ToolFailure);
  return error as ToolFailure;
}

/** What an instance can see with its own token: the ground truth the skill's answers are checked against. */
async function notesOf(instance: string) {
  const own = new MemoryClient({
    baseUrl: service.url,
    token: mintMemoryToken(SECRET, { kind: "instance", instance }),
  });
  return (await own.listNotes(instance)).notes;
}

beforeAll(async () => {
  const app = await createMemoryService({
    KNCLAW_MEMORY_BACKEND: "embedded",
    KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
    NODE_ENV: "test",
  });
  service = await serve(app, { port: 0, host: "127.0.0.1" });
  client = new MemoryClient({ baseUrl: service.url, token: skillToken });
  handlers = createMemoryHandlers({ client });
});

afterAll(async () => {
  await service.shutdown();
});

describe("memory skill", () => {
  it("remembers into the calling instance's notes with provenance, once per call", async () => {
    const context = ctx("assistant", "call-remember");
    const first = (await handlers.remember(
      { text: "Alice prefers answers in German", tags: ["alice", "language"] },
      context,
    )) as Record<string, unknown>;
    expect(first).toMatchObject({
      id: noteIdFor(context),
      created: true,
      text: "Alice prefers answers in German",
      owner: "instance",
    });
    const again = (await handlers.remember(
      { text: "Alice prefers answers in German", tags: ["alice", "language"] },
      context,
    )) as Record<string, unknown>;
    expect(again).toMatchObject({ id: first.id, created: false });
    const stored = await notesOf("assistant");
    expect(stored).toHaveLength(1);
    expect(stored[0]!.provenance).toMatchObject({
      runId: "run-1",
      source: "memory skill",
      writtenBy: "notes:memory",
    });
    expect(await notesOf("ops")).toEqual([]);
  });

  it("recalls only the calling instance's notes", async () => {
    await handlers.remember({ text: "The ops cluster runs in eu-west-1", tags: ["cluster"] }, ctx("ops"));
    const mine = (await handlers.recall({ query: "German language", limit: 5 }, ctx("assistant"))) as {
      notes: Array<{ text: string }>;
    };
    expect(mine.notes.map((n) => n.text)).toEqual(["Alice prefers answers in German"]);
    const theirs = (await handlers.recall({ query: "German language", limit: 5 }, ctx("ops"))) as { notes: unknown[] };
    expect(theirs.notes).toEqual([]);
    const cluster = (await handlers.recall({ query: "cluster", limit: 5 }, ctx("assistant"))) as { notes: unknown[] };
    expect(cluster.notes).toEqual([]);
  });

  it("keeps per-user notes apart within the instance", async () => {
    await handlers.remember({ text: "Bob is on call this week", user: "person-bob" }, ctx("assistant"));
    const forBob = (await handlers.recall({ query: "on call", user: "person-bob", limit: 5 }, ctx("assistant"))) as {
      notes: Array<{ owner: string }>;
    };
    expect(forBob.notes[0]).toMatchObject({ owner: "user:person-bob" });
  });

  it("forgets a note of its own instance, and cannot forget another instance's", async () => {
    const opsNote = (await notesOf("ops"))[0]!;
    const denied = await failure(handlers.forget({ id: opsNote.id }, ctx("assistant")));
    expect(denied.errorClass).toBe("NotFound");
    expect(await notesOf("ops")).toHaveLength(1);
    expect(await handlers.forget({ id: opsNote.id }, ctx("ops"))).toEqual({ forgotten: opsNote.id });
    expect(await notesOf("ops")).toEqual([]);
  });

  it("maps the service's failures", async () => {
    const wrongToken = createMemoryHandlers({
      client: new MemoryClient({
        baseUrl: service.url,
        token: mintMemoryToken("another-secret-0123456789", { kind: "notes" }),
      }),
    });
    expect((await failure(wrongToken.recall({ query: "x", limit: 1 }, ctx("assistant")))).errorClass).toBe(
      "AuthExpired",
    );
    const channelScoped = createMemoryHandlers({
      client: new MemoryClient({
        baseUrl: service.url,
        token: mintMemoryToken(SECRET, { kind: "channel", name: "slack" }),
      }),
    });
    expect((await failure(channelScoped.recall({ query: "x", limit: 1 }, ctx("assistant")))).errorClass).toBe(
      "PermissionDenied",
    );
    const down = createMemoryHandlers({
      client: new MemoryClient({ baseUrl: "http://127.0.0.1:1", token: skillToken, retries: 0 }),
    });
    expect((await failure(down.recall({ query: "x", limit: 1 }, ctx("assistant")))).errorClass).toBe("Unavailable");
  });
});

describe("memory skill behind the runtime", () => {
  let app: FunctionApp;
  const key = generateSigningKey();
  const signing = parsePrivateKey(key.privateKeyPem);
  let sequence = 0;

  beforeAll(() => {
    app = createMemorySkillApp({
      KNCLAW_MEMORY_URL: service.url,
      KNCLAW_MEMORY_TOKEN: skillToken,
      KNCLAW_AGENT_KEYS: JSON.stringify({ assistant: key.publicKeyPem }),
      KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/memory").privateKeyPem,
      NODE_ENV: "test",
    });
  });

  async function call(tool: string, args: unknown): Promise<ToolCompleted> {
    sequence += 1;
    const callId = `rt-${sequence}`;
    const event = signedToolRequest(
      { runId: "run-9", callId, instance: "assistant", skill: "memory", tool, arguments: args },
      signing,
    );
    return (await postToolRequest(app, event)).completed!;
  }

  it("serves remember and recall for the token's instance", async () => {
    const remembered = await call("remember", { text: "Deploys freeze on Fridays", tags: ["deploy"] });
    expect(remembered.outcome).toMatchObject({ ok: true, result: { created: true } });
    const recalled = await call("recall", { query: "deploy freeze" });
    expect(recalled.outcome).toMatchObject({ ok: true, result: { notes: [{ text: "Deploys freeze on Fridays" }] } });
  });

  it("refuses arguments that try to name another instance", async () => {
    const before = (await notesOf("ops")).length;
    const sneaky = await call("remember", { text: "planted", instance: "ops" });
    expect(sneaky.outcome).toMatchObject({ ok: false, error: { class: "ValidationFailed" } });
    expect((await notesOf("ops")).length).toBe(before);
  });

  it("requires the memory service settings", () => {
    expect(() => createMemorySkillApp({})).toThrow(/KNCLAW_MEMORY_URL/);
  });
});
