import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import {
  approvalRequested,
  completed,
  failed,
  type GatewayHarness,
  OTHER_TOKEN,
  said,
  startGateway,
  TOKEN,
} from "./support/harness.ts";

/**
 * The gateway's MCP server (functions/gateway/mcp.ts) with the official MCP SDK client over real HTTP, the test
 * playing the agent: it answers each run.requested the gateway emits by delivering the run's events.
 */
let gw: GatewayHarness;
const clients: Client[] = [];

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw.stop();
});

afterEach(async () => {
  gw.broker.onEvent = undefined;
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function connect(token: string | null = TOKEN, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "knclaw-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
    requestInit: { headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...headers } },
  });
  clients.push(client);
  await client.connect(transport);
  return client;
}

/** The next run.requested the gateway emits from now on. */
function nextRun(): Promise<{ runId: string; instance: string; data: ReturnType<typeof readRequest> }> {
  return new Promise((resolve) => {
    gw.broker.onEvent = (event) => {
      if (event.attributes.type !== T.RUN_REQUESTED) return;
      const data = readRequest(event);
      resolve({ runId: data.runId, instance: data.instance, data });
    };
  });
}

const readRequest = (event: CloudEvent) => readEvent(event, T.RUN_REQUESTED);

async function deliver(event: CloudEvent): Promise<void> {
  const response = await gw.deliver(event);
  expect(response.status).toBe(200);
}

describe("the gateway's MCP server", () => {
  it("initializes and lists one tool per instance, with the run arguments' schema", async () => {
    const client = await connect();
    expect(client.getServerVersion()).toMatchObject({ name: "knclaw" });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["dev", "ops"]);
    expect(tools[1]).toMatchObject({
      title: "knclaw agent ops",
      inputSchema: { type: "object", required: ["task"], properties: { task: { type: "string" } } },
    });
  });

  it("calling an instance starts a run as the token and answers with the run's output", async () => {
    const client = await connect();
    const run = nextRun();
    const call = client.callTool({ name: "ops", arguments: { task: "check the pods", sessionKey: "s1" } });
    const { runId, instance, data } = await run;
    expect(instance).toBe("ops");
    expect(data).toMatchObject({
      task: "check the pods",
      sessionKey: "http:admin:s1",
      requestedBy: { channel: "http", id: "admin" },
      replyTo: { channel: "http", conversation: runId },
    });
    await deliver(completed(runId, "ops", "all pods are running"));
    const result = await call;
    expect(result).toEqual({
      content: [{ type: "text", text: "all pods are running" }],
      _meta: { "dev.knclaw/runId": runId },
    });
  });

  it("reports the run's messages and approval requests as progress while it waits", async () => {
    const client = await connect();
    const progress: Progress[] = [];
    let progressed: (() => void) | undefined;
    const run = nextRun();
    const call = client.callTool({ name: "dev", arguments: { task: "clean up" } }, undefined, {
      onprogress: (update) => {
        progress.push(update);
        progressed?.();
      },
      resetTimeoutOnProgress: true,
    });
    const nextProgress = () => new Promise<void>((resolve) => (progressed = resolve));
    const { runId } = await run;

    let arrived = nextProgress();
    await deliver(said(runId, "dev", "Looking at the namespace first."));
    await arrived;
    expect(progress.at(-1)).toMatchObject({ progress: 1, message: "Looking at the namespace first." });

    arrived = nextProgress();
    await deliver(approvalRequested(runId, "dev", "appr-mcp-1"));
    await arrived;
    expect(progress.at(-1)).toMatchObject({
      progress: 2,
      message: expect.stringMatching(/^waiting for approval of k8s\.delete_pod: POST \/api\/v1\/approvals\/appr-mcp-1/),
    });

    await deliver(completed(runId, "dev", "deleted after approval"));
    expect(await call).toMatchObject({ content: [{ type: "text", text: "deleted after approval" }] });
  });

  it("answers a failed run as a tool error naming the reason", async () => {
    const client = await connect();
    const run = nextRun();
    const call = client.callTool({ name: "ops", arguments: { task: "spend it all" } });
    const { runId } = await run;
    await deliver(failed(runId, "ops", "budget_exceeded:tokens", "the token budget is spent"));
    expect(await call).toEqual({
      isError: true,
      content: [{ type: "text", text: `run ${runId} failed (budget_exceeded:tokens): the token budget is spent` }],
      _meta: { "dev.knclaw/runId": runId },
    });
  });

  it("refuses arguments that do not match the tool's schema and unknown tools, starting no run", async () => {
    const client = await connect();
    const before = gw.broker.ofType(T.RUN_REQUESTED).length;
    const bad = await client.callTool({ name: "ops", arguments: { task: "" } });
    expect(bad).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringMatching(/task/) }] });
    const unknown = await client.callTool({ name: "prod", arguments: { task: "x" } });
    expect(unknown).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/prod/) }] });
    expect(gw.broker.ofType(T.RUN_REQUESTED).length).toBe(before);
  });

  it("starts one run per Idempotency-Key however often the call is sent", async () => {
    const client = await connect(TOKEN, { "idempotency-key": "mcp-retry-1" });
    const run = nextRun();
    const first = client.callTool({ name: "ops", arguments: { task: "once" } });
    const { runId } = await run;
    await deliver(completed(runId, "ops", "done once"));
    expect(await first).toMatchObject({ _meta: { "dev.knclaw/runId": runId } });
    const again = await client.callTool({ name: "ops", arguments: { task: "once" } });
    expect(again).toMatchObject({ content: [{ text: "done once" }], _meta: { "dev.knclaw/runId": runId } });
    expect(gw.broker.ofType(T.RUN_REQUESTED).filter((e) => readRequest(e).runId === runId)).toHaveLength(1);
  });

  it("refuses a missing or wrong bearer token with 401 and a Bearer challenge", async () => {
    for (const headers of [{}, { authorization: "Bearer not-a-gateway-token-at-all" }]) {
      const response = await fetch(`${gw.url}/mcp`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
    }
    await expect(connect(null)).rejects.toThrow(/401|Unauthorized/i);
    await expect(connect(OTHER_TOKEN.replace(/.$/, "x"))).rejects.toThrow(/401|Unauthorized/i);
  });

  it("is stateless: GET and DELETE answer 405, and a browser origin CORS does not allow is refused", async () => {
    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(`${gw.url}/mcp`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
    }
    const foreign = await fetch(`${gw.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        origin: "https://evil.example",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(foreign.status).toBe(403);
  });
});

describe("the gateway's MCP server under its limits", () => {
  let limited: GatewayHarness;
  beforeAll(async () => {
    limited = await startGateway({
      KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ requestsPerMinute: 1, burst: 10 }),
      KNCLAW_GATEWAY_MAX_WAIT_SECONDS: "1",
    });
  });
  afterAll(async () => {
    await limited.stop();
  });

  it("gives up waiting after maxWaitSeconds and answers with the run id to follow", async () => {
    const client = new Client({ name: "knclaw-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${limited.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
    clients.push(client);
    const result = await client.callTool({ name: "ops", arguments: { task: "never answered" } });
    const runId = readRequest(limited.broker.ofType(T.RUN_REQUESTED)[0]!).runId;
    expect(result).toEqual({
      isError: true,
      content: [
        { type: "text", text: `run ${runId} did not finish within 1 s; it continues: GET /api/v1/runs/${runId}` },
      ],
      _meta: { "dev.knclaw/runId": runId },
    });
  });

  it("shares the token's rate limit with /api/v1", async () => {
    const headers = { authorization: `Bearer ${OTHER_TOKEN}` };
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${limited.url}/api/v1/runs/none`, { headers })).status).toBe(404);
    }
    const mcp = await fetch(`${limited.url}/mcp`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(429);
    expect(Number(mcp.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});
