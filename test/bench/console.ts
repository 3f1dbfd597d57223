/**
 * `npm run bench -- console`: the operator console with 1,000 runs stored. The gateway and the memory service
 * (embedded store) each serve on loopback in this process; 1,000 runs are started through the gateway's API and
 * given agent run documents (a tool call, two model turns with their turn log, a result) and two audit entries each,
 * over two instances. Measured, one request at a time after a warm-up, signed in with a session cookie:
 * - the runs page (GET /console/runs: the newest 25 across both instances, rendered to HTML);
 * - a run's timeline (GET /console/runs/{id}, a random stored run: document, audit entries, HTML);
 * - the baseline, in the same run: the gateway's JSON runs API for the same runs (GET /api/v1/runs/{id}).
 * Target: p95 < 100 ms for both console pages. Last line:
 * {"bench":"console","runs":1000,"runs_page_p95_ms":N,"timeline_p95_ms":N,"api_p95_ms":N,"ratio":N}
 * (`ratio`: the timeline's p95 over the JSON API's).
 */
import { MemoryClient } from "../../clients/memory/client.ts";
import type { CreateRunRequest } from "../../clients/memory/contract/runs.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import { createApp as createGateway } from "../../functions/gateway/app.ts";
import { createApp as createMemory } from "../../functions/memory/app.ts";
import { serve } from "../../runtime/serve.ts";
import { eventKeysEnv } from "../support/event-keys.ts";

const RUNS = 1_000;
const SAMPLES = Number(process.env.CONSOLE_BENCH_SAMPLES ?? 300);
const WARMUP = 30;
const TOKEN = "console-bench-token-0123456789abcdef";
const MEMORY_SECRET = "console-bench-memory-secret-0123";
const OPERATOR = "console-bench-operator-token-0123";
const INSTANCES = ["ops", "support"];

const memoryApp = await createMemory({
  KNCLAW_MEMORY_TOKEN_SECRET: MEMORY_SECRET,
  KNCLAW_MEMORY_OPERATOR_TOKEN: OPERATOR,
  KNCLAW_MEMORY_BACKEND: "embedded",
  KNCLAW_LOG_LEVEL: "warn",
});
const memory = await serve(memoryApp, { port: 0, host: "127.0.0.1" });
const gatewayApp = await createGateway(
  {
    KNCLAW_GATEWAY_TOKENS: "bench",
    KNCLAW_GATEWAY_TOKEN_BENCH: TOKEN,
    KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ requestsPerMinute: 1_000_000, burst: 1_000_000 }),
    KNCLAW_INSTANCES: JSON.stringify(INSTANCES),
    KNCLAW_MEMORY_URL: memory.url,
    KNCLAW_MEMORY_TOKEN: mintMemoryToken(MEMORY_SECRET, { kind: "gateway" }),
    KNCLAW_LOG_LEVEL: "warn",
    ...eventKeysEnv("gateway", []),
  },
  // run.requested goes nowhere: the runs' agent documents are written directly below.
  { sink: { emit: async () => undefined } },
);
const gateway = await serve(gatewayApp, { port: 0, host: "127.0.0.1" });
const operator = new MemoryClient({ baseUrl: memory.url, token: OPERATOR });

/** An agent run document as functions/agent/run/state.ts writes it. */
function runDocument(runId: string, instance: string, index: number): NonNullable<CreateRunRequest["state"]> {
  const now = Date.now();
  const args = JSON.stringify({ timeZone: "Europe/Berlin" });
  return {
    v: 1,
    runId,
    instance,
    kind: "task",
    phase: "completed",
    model: "demo/echo",
    startedAt: now,
    updatedAt: now,
    requester: { channel: "http", id: "bench" },
    trace: { traceparent: `00-${index.toString(16).padStart(32, "0")}-${"1".repeat(16)}-01` },
    userText: `Task ${index}: what time is it in Berlin?`,
    layers: [],
    contractVersion: "default@bench",
    turns: 2,
    toolCalls: 1,
    consecutiveFailures: 0,
    usage: { inputTokens: 1200, outputTokens: 80 },
    costUsd: 0.0042,
    turnLog: [
      {
        turn: 1,
        at: now,
        inputTokens: 540,
        outputTokens: 20,
        costUsd: 0.002,
        latencyMs: 640,
        finishReason: "tool_calls",
        toolCalls: 1,
      },
      {
        turn: 2,
        at: now,
        inputTokens: 660,
        outputTokens: 60,
        costUsd: 0.0022,
        latencyMs: 910,
        finishReason: "stop",
        toolCalls: 0,
      },
    ],
    transcript: [
      { role: "user", content: `Task ${index}: what time is it in Berlin?` },
      {
        role: "assistant",
        content: "Checking the time.",
        toolCalls: [{ id: "call_1", name: "time__now", arguments: args }],
      },
      {
        role: "tool",
        callId: "call_1",
        name: "time__now",
        content: JSON.stringify({ local: "2026-12-07 09:00", timeZone: "Europe/Berlin" }),
        isError: false,
      },
      { role: "assistant", content: "It is 09:00 in Berlin." },
    ],
    pending: [],
    applied: [],
    outbox: [],
    holds: [],
    outcome: { status: "completed", output: "It is 09:00 in Berlin." },
  };
}

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const runIds: string[] = [];
for (let i = 0; i < RUNS; i++) {
  const instance = INSTANCES[i % INSTANCES.length]!;
  const started = await fetch(`${gateway.url}/api/v1/instances/${instance}/runs`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ task: `Task ${i}` }),
  });
  const { runId } = (await started.json()) as { runId: string };
  await operator.createRun(instance, { id: runId, status: "completed", state: runDocument(runId, instance, i) });
  await operator.appendAudit(instance, [
    { type: "approval.requested", runId, data: { callId: "1-0", tool: "time.now" } },
    { type: "approval.granted", runId, data: { callId: "1-0", tool: "time.now", by: "http:bench" } },
  ]);
  runIds.push(runId);
}

const login = await fetch(`${gateway.url}/console/login`, {
  method: "POST",
  redirect: "manual",
  headers: { origin: gateway.url, "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ token: TOKEN }).toString(),
});
const cookie = login.headers.get("set-cookie")!.split(";")[0]!;

async function measure(path: (i: number) => string, headers: Record<string, string>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const started = performance.now();
    const response = await fetch(`${gateway.url}${path(i)}`, { headers });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path(i)} answered ${response.status}`);
    if (i >= WARMUP) times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const randomRun = () => runIds[Math.floor(Math.random() * runIds.length)]!;

try {
  const page = { cookie, accept: "text/html" };
  const runsPage = await measure(() => "/console/runs", page);
  const timeline = await measure(() => `/console/runs/${randomRun()}`, page);
  const api = await measure(() => `/api/v1/runs/${randomRun()}`, { authorization: auth.authorization });
  const line = (name: string, sorted: number[]) =>
    console.log(
      `${name.padEnd(40)} p50 ${p(sorted, 0.5).toFixed(2)} ms  p95 ${p(sorted, 0.95).toFixed(2)} ms  max ${sorted.at(-1)!.toFixed(2)} ms`,
    );
  console.log(`${RUNS} runs stored over ${INSTANCES.length} instances, ${SAMPLES} requests each, one at a time`);
  line("runs page (GET /console/runs)", runsPage);
  line("timeline (GET /console/runs/{id})", timeline);
  line("baseline JSON API (GET /api/v1/runs/{id})", api);
  const ratio = p(timeline, 0.95) / p(api, 0.95);
  console.log(`ratio timeline p95 / JSON API p95: ${ratio.toFixed(2)}; target: both console pages p95 < 100 ms`);
  console.log(
    JSON.stringify({
      bench: "console",
      runs: RUNS,
      runs_page_p95_ms: Number(p(runsPage, 0.95).toFixed(2)),
      timeline_p95_ms: Number(p(timeline, 0.95).toFixed(2)),
      api_p95_ms: Number(p(api, 0.95).toFixed(2)),
      ratio: Number(ratio.toFixed(2)),
    }),
  );
} finally {
  await gateway.shutdown();
  await memory.shutdown();
}
