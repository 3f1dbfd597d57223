import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import type { FunctionApp } from "../../../runtime/function.ts";
import { generateSigningKey, parsePrivateKey } from "../../../runtime/keys.ts";
import { McpServerSettings, type McpServerSettingsInput } from "../../../skills/mcp/settings.ts";
import { createMcpSkill } from "../../../skills/mcp/skill.ts";
import type { SkillDescriptor } from "../../../skills/runtime/descriptor.ts";
import { DESCRIBE_PATH, serveSkill } from "../../../skills/runtime/serve-skill.ts";
import { roleKeys } from "../../support/event-keys.ts";
import { postToolRequest, signedToolRequest } from "../support/call.ts";
import {
  childrenRunning,
  EVERYTHING,
  everythingStdio,
  filesystemStdio,
  type HttpEverything,
  startEverythingHttp,
  startOAuthGuard,
  startRecordingProxy,
  watchedLogger,
} from "./support/servers.ts";

const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
const other = parsePrivateKey(generateSigningKey().privateKeyPem);
let sequence = 0;

interface Served {
  app: FunctionApp;
  close(): Promise<void>;
  logs: ReturnType<typeof watchedLogger>;
}

function serveMcp(name: string, input: McpServerSettingsInput, env: Record<string, string> = {}): Served {
  const logs = watchedLogger();
  const skill = createMcpSkill(name, McpServerSettings.parse(input), env, logs.log);
  const app = serveSkill(skill.definition, {
    env: {
      KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys(`skill/${name}`).privateKeyPem,
    },
    logger: logs.log,
    liveTools: skill.live,
  });
  return { app, logs, close: () => skill.connection.close() };
}

function call(skill: string, tool: string, args: Record<string, unknown>, key = signing) {
  sequence += 1;
  const request = { runId: "run-1", callId: `call-${sequence}`, instance: "assistant", skill, tool, arguments: args };
  // The event is always the agent's own: a forged token travels inside a well-signed call.
  return signedToolRequest(request, key, args, signing);
}

async function describeServed(served: Served): Promise<SkillDescriptor> {
  const response = await served.app.fetch(new Request(`http://skill${DESCRIBE_PATH}`));
  expect(response.status).toBe(200);
  return (await response.json()) as SkillDescriptor;
}

describe("server-everything over stdio", () => {
  let served: Served;
  beforeAll(() => {
    served = serveMcp("everything", everythingStdio({ deny: ["get-env"] }));
  });
  afterAll(() => served.close());

  it("describes the discovered tools with their JSON Schemas and annotation-derived flags", async () => {
    const descriptor = await describeServed(served);
    const byName = new Map(descriptor.tools.map((tool) => [tool.name, tool]));
    expect(byName.get("echo")).toMatchObject({ mutates: false, approval: false, groups: ["everything:read"] });
    expect(byName.get("echo")!.inputSchema).toMatchObject({
      type: "object",
      properties: { message: { type: "string" } },
    });
    expect(byName.get("toggle-simulated-logging")).toMatchObject({ mutates: true, approval: true });
    expect(byName.has("get-env")).toBe(false);
  });

  it("calls a tool and maps text, structured content and images", async () => {
    const echo = await postToolRequest(served.app, call("everything", "echo", { message: "hi" }));
    expect(echo.completed?.outcome).toEqual({ ok: true, result: { content: [{ type: "text", text: "Echo: hi" }] } });
    const image = await postToolRequest(served.app, call("everything", "get-tiny-image", {}));
    const content = (image.completed!.outcome as { result: { content: Array<Record<string, unknown>> } }).result
      .content;
    const png = content.find((item) => item.type === "image")!;
    expect(png).toMatchObject({ mimeType: "image/png", sha256: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(png).not.toHaveProperty("data");
    const structured = await postToolRequest(
      served.app,
      call("everything", "get-structured-content", { location: "New York" }),
    );
    expect(structured.completed?.outcome).toMatchObject({
      ok: true,
      result: { structuredContent: expect.any(Object) },
    });
  });

  it("answers a denied or unknown tool with NotFound", async () => {
    const denied = await postToolRequest(served.app, call("everything", "get-env", {}));
    expect(denied.completed?.outcome).toMatchObject({ ok: false, error: { class: "NotFound" } });
  });

  it("answers the server's invalid-params refusal as ValidationFailed", async () => {
    const bad = await postToolRequest(served.app, call("everything", "get-sum", { a: "x", b: 1 }));
    expect(bad.completed?.outcome).toMatchObject({ ok: false, error: { retryable: false } });
  });

  it("refuses a forged or missing capability token before the server is reached", async () => {
    // A fresh skill whose server was never started: a refused call must not start it.
    const fresh = serveMcp("everything", everythingStdio());
    const before = childrenRunning(EVERYTHING).length;
    const forged = await postToolRequest(fresh.app, call("everything", "echo", { message: "x" }, other));
    expect(forged.completed?.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
    const event = call("everything", "echo", { message: "x" });
    const data = JSON.parse(new TextDecoder().decode(event.data as Uint8Array)) as Record<string, unknown>;
    data.token = "";
    const missing = await postToolRequest(
      fresh.app,
      eventSigner("agent/assistant", signing).sign({ ...event, data: new TextEncoder().encode(JSON.stringify(data)) }),
    );
    expect(missing.status === 400 || missing.completed?.outcome.ok === false).toBe(true);
    expect(childrenRunning(EVERYTHING).length).toBe(before);
    await fresh.close();
  });

  it("gives a typed error when the server dies mid-call, and restarts it on the next call", async () => {
    const progress = served.logs.next("MCP tool progress");
    const pending = postToolRequest(
      served.app,
      call("everything", "trigger-long-running-operation", { duration: 20, steps: 20 }),
    );
    await progress;
    for (const pid of childrenRunning(EVERYTHING)) process.kill(pid, "SIGKILL");
    const died = await pending;
    expect(died.completed?.outcome).toMatchObject({ ok: false, error: { class: "Unavailable", retryable: true } });
    const again = await postToolRequest(served.app, call("everything", "echo", { message: "back" }));
    expect(again.completed?.outcome).toMatchObject({ ok: true });
  });

  it("cancels a call that runs past its timeout", async () => {
    const short = serveMcp("everything", everythingStdio({ timeoutSeconds: 1 }));
    const timedOut = await postToolRequest(
      short.app,
      call("everything", "trigger-long-running-operation", { duration: 30, steps: 30 }),
    );
    expect(timedOut.completed?.outcome).toMatchObject({ ok: false, error: { class: "Timeout" } });
    const after = await postToolRequest(short.app, call("everything", "echo", { message: "still here" }));
    expect(after.completed?.outcome, JSON.stringify(after.completed?.outcome)).toMatchObject({ ok: true });
    await short.close();
  });
});

describe("a server whose tools change", () => {
  it("lists the tools again after notifications/tools/list_changed", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/changing-server.ts", import.meta.url));
    const served = serveMcp("changing", { transport: "stdio", command: process.execPath, args: [fixture] });
    try {
      expect((await describeServed(served)).tools.map((tool) => tool.name).sort()).toEqual(["add_tool", "first"]);
      const added = await postToolRequest(served.app, call("changing", "add_tool", {}));
      expect(added.completed?.outcome).toMatchObject({ ok: true });
      expect((await describeServed(served)).tools.map((tool) => tool.name).sort()).toEqual([
        "add_tool",
        "first",
        "second",
      ]);
      const second = await postToolRequest(served.app, call("changing", "second", {}));
      expect(second.completed?.outcome).toEqual({ ok: true, result: { content: [{ type: "text", text: "second" }] } });
    } finally {
      await served.close();
    }
  });
});

describe("server-everything over Streamable HTTP", () => {
  let server: HttpEverything;
  let served: Served;
  beforeAll(async () => {
    server = await startEverythingHttp();
    served = serveMcp("remote", { transport: "http", url: server.url, allow: ["echo", "get-sum"] });
  });
  afterAll(async () => {
    await served.close();
    await server.close();
  });

  it("lists only the allowed tools and calls them", async () => {
    const descriptor = await describeServed(served);
    expect(descriptor.tools.map((tool) => tool.name).sort()).toEqual(["echo", "get-sum"]);
    const sum = await postToolRequest(served.app, call("remote", "get-sum", { a: 2, b: 3 }));
    expect(JSON.stringify(sum.completed?.outcome)).toContain("5");
  });

  it("answers Unavailable (retryable) when the server is gone", async () => {
    await server.close();
    const gone = await postToolRequest(served.app, call("remote", "echo", { message: "x" }));
    expect(gone.completed?.outcome).toMatchObject({ ok: false, error: { class: "Unavailable", retryable: true } });
  });
});

describe("credentials for a remote server", () => {
  it("sends the bearer token and each header from their Secret variables", async () => {
    const server = await startEverythingHttp();
    const proxy = await startRecordingProxy(server.url);
    const served = serveMcp(
      "remote",
      { transport: "http", url: proxy.url, headers: ["X-Api-Key"], bearer: true, allow: ["echo"] },
      { KNCLAW_MCP_BEARER: "bearer-value", KNCLAW_MCP_HEADER_X_API_KEY: "key-value" },
    );
    try {
      const echo = await postToolRequest(served.app, call("remote", "echo", { message: "authed" }));
      expect(echo.completed?.outcome).toMatchObject({ ok: true });
      expect(proxy.seen.length).toBeGreaterThan(0);
      for (const headers of proxy.seen) {
        expect(headers.authorization).toBe("Bearer bearer-value");
        expect(headers["x-api-key"]).toBe("key-value");
      }
    } finally {
      await served.close();
      await proxy.close();
      await server.close();
    }
  });

  it("gets a token with OAuth client credentials (the SDK's provider) and calls with it", async () => {
    const server = await startEverythingHttp();
    const guard = await startOAuthGuard(server.url, "knclaw-skill", "client-secret-value");
    const served = serveMcp(
      "remote",
      {
        transport: "http",
        url: guard.url,
        oauth: { clientId: "knclaw-skill", issuer: guard.issuer },
        allow: ["echo"],
      },
      { KNCLAW_MCP_OAUTH_CLIENT_SECRET: "client-secret-value" },
    );
    try {
      const echo = await postToolRequest(served.app, call("remote", "echo", { message: "oauth" }));
      expect(echo.completed?.outcome, JSON.stringify(echo.completed?.outcome)).toMatchObject({ ok: true });
      expect(guard.grants).toContainEqual({
        grantType: "client_credentials",
        clientId: "knclaw-skill",
        clientSecret: "client-secret-value",
      });
    } finally {
      await served.close();
      await guard.close();
      await server.close();
    }
  });

  it("answers a missing credential variable with a non-retryable typed error", async () => {
    const served = serveMcp("remote", { transport: "http", url: "http://127.0.0.1:9/mcp", bearer: true });
    const refused = await postToolRequest(served.app, call("remote", "echo", { message: "x" }));
    expect(refused.completed?.outcome).toMatchObject({
      ok: false,
      error: { class: "Unavailable", retryable: false, message: expect.stringContaining("KNCLAW_MCP_BEARER") },
    });
    await served.close();
  });
});

describe("server-filesystem over stdio", () => {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-mcp-fs-"));
  let served: Served;
  beforeAll(() => {
    served = serveMcp("files", filesystemStdio(dir, { deny: ["move_file"] }));
  });
  afterAll(async () => {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("flags destructive tools for approval and read-only ones not", async () => {
    const tools = new Map((await describeServed(served)).tools.map((tool) => [tool.name, tool]));
    expect(tools.get("write_file")).toMatchObject({ mutates: true, approval: true });
    expect(tools.get("read_text_file")).toMatchObject({ mutates: false, approval: false });
    expect(tools.has("move_file")).toBe(false);
  });

  it("writes a file in the directory it serves", async () => {
    const path = join(dir, "note.txt");
    const written = await postToolRequest(served.app, call("files", "write_file", { path, content: "hello" }));
    expect(written.completed?.outcome).toMatchObject({ ok: true });
    expect(readFileSync(path, "utf8")).toBe("hello");
    const denied = await postToolRequest(
      served.app,
      call("files", "move_file", { source: path, destination: join(dir, "moved.txt") }),
    );
    expect(denied.completed?.outcome).toMatchObject({ ok: false, error: { class: "NotFound" } });
    expect(existsSync(join(dir, "moved.txt"))).toBe(false);
  });
});
