import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevSession, startDevSession } from "../../cli/commands/dev.ts";
import { defaultConfigPath } from "../../knative/config/index.ts";

/**
 * knclaw's MCP server as an MCP client sees it: the official SDK client against `/mcp` on `knclaw dev`'s one port
 * (forwarded to the gateway like /api/v1), with the shipped config: the demo agent `assistant`, the time and memory
 * skills, and a policy under which memory.forget waits for an approval.
 */
let session: DevSession;
let token: string;
const clients: Client[] = [];

beforeAll(async () => {
  session = await startDevSession(
    { config: defaultConfigPath, port: "0", logLevel: "warn", brokerStore: "memory" },
    {},
  );
  const line = session.lines.find((l) => l.startsWith("Gateway API:"));
  const file = /token "cli" for this session in (\S+);/.exec(line ?? "")?.[1];
  if (file === undefined) throw new Error(`no gateway line in: ${session.lines.join("\n")}`);
  token = readFileSync(file, "utf8");
});

afterAll(async () => {
  session?.cleanup();
  await session?.runtime.shutdown();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function connect(bearer: string | null): Promise<Client> {
  const client = new Client({ name: "knclaw-dev-test", version: "1.0.0" });
  clients.push(client);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${session.runtime.url}/mcp`), {
      requestInit: { headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` } },
    }),
  );
  return client;
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  (result.content as Array<{ type: string; text: string }>).map((part) => part.text).join("");

describe("the MCP server under knclaw dev", () => {
  it("is announced on the dev port", () => {
    expect(session.lines).toContain(
      `MCP server:  ${session.runtime.url}/mcp  (the same bearer token; functions/gateway/README.md shows client setups)`,
    );
  });

  it("initializes and lists one tool per instance the gateway serves", async () => {
    const client = await connect(token);
    expect(client.getServerVersion()?.name).toBe("knclaw");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["assistant"]);
  });

  it("calls an instance: the demo model answers", async () => {
    const client = await connect(token);
    const result = await client.callTool({ name: "assistant", arguments: { task: "hello over mcp" } });
    expect(result.isError).toBeUndefined();
    expect(textOf(result)).toMatch(/^\[demo model\] You said: "hello over mcp"\./);
    expect(result._meta?.["dev.knclaw/runId"]).toMatch(/^run-/);
  });

  it("runs a tool-calling task: the demo model calls time.now and reports what the skill said", async () => {
    const client = await connect(token);
    const before = Date.now();
    const result = await client.callTool({ name: "assistant", arguments: { task: "what time is it? use now" } });
    const text = textOf(result);
    expect(text).toMatch(/time__now answered: .*"utc":"(\d{4}-\d\d-\d\dT[^"]+Z)"/);
    expect(Date.parse(/"utc":"([^"]+)"/.exec(text)![1]!)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("reports progress on a long run: the approval it waits for, then the answer once approved", async () => {
    const client = await connect(token);
    const progress: Progress[] = [];
    let approvalSeen: ((approvalId: string) => void) | undefined;
    const approval = new Promise<string>((resolve) => (approvalSeen = resolve));
    const call = client.callTool({ name: "assistant", arguments: { task: "forget" } }, undefined, {
      onprogress: (update) => {
        progress.push(update);
        const id = /POST \/api\/v1\/approvals\/(\S+)/.exec(update.message ?? "")?.[1];
        if (id !== undefined) approvalSeen?.(id);
      },
      resetTimeoutOnProgress: true,
    });
    const approvalId = await approval;
    expect(progress.at(-1)?.message).toMatch(/^waiting for approval of memory\.forget: /);
    const decided = await fetch(`${session.runtime.url}/api/v1/approvals/${approvalId}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ decision: "approve" }),
    });
    expect(decided.status).toBe(202);
    const result = await call;
    // Approved, the call ran: the memory skill had no note "forget" and said so; the demo model reports it.
    expect(textOf(result)).toMatch(/memory__forget/);
    const counts = progress.map((update) => update.progress);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  });

  it("refuses a wrong or missing token with 401 and a Bearer challenge", async () => {
    await expect(connect(`${token.slice(0, -1)}x`)).rejects.toThrow(/401|Unauthorized/i);
    await expect(connect(null)).rejects.toThrow(/401|Unauthorized/i);
    for (const authorization of [undefined, "Bearer wrong-token-wrong-token-wrong"]) {
      const response = await fetch(`${session.runtime.url}/mcp`, {
        method: "POST",
        headers: {
          ...(authorization !== undefined ? { authorization } : {}),
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
    }
  });
});
