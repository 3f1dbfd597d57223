/**
 * `npm run bench -- agent`: the platform's overhead per conversational turn — message.received posted to the agent
 * function -> message.send arriving at the broker sink — with a zero-latency in-process model (its own time is
 * measured and subtracted) and the real memory service on the real Redis, with event signing on (each turn arrives
 * signed as the Slack adapter would sign it, the agent verifies it and signs what it emits). 200 conversations run
 * concurrently, each turn in its session after the previous answer.
 *
 * Two phases, as latency benchmarks are usually read:
 * 1. capacity: every conversation sends its next message as soon as it has the answer (closed loop, 200 in flight):
 *    `turns_per_s`. Latency here is queueing (Little's law: 200 / throughput), not overhead, so it is printed only.
 * 2. overhead: the same 200 conversations, each writing every 2 s on average (Poisson arrivals, 100 turns/s; capped
 *    at 40% of the measured capacity on a slow machine): `overhead_p50_ms` / `overhead_p99_ms`. A fixed offered load
 *    keeps runs comparable when the machine's spare capacity changes under them.
 * Baseline in the same run: a minimal function that decodes the event and emits one event to the same sink (one
 * event hop, the floor any function pays); the ratio is agent overhead / baseline latency.
 * Every turn's message.send is counted: `lost` (never arrived) and `duplicated` (more than one distinct send, or the
 * same send more than once) must be 0.
 * 3. the overhead phase again with the OpenTelemetry SDK started and exporting over OTLP to a loopback collector:
 *    `otel_overhead_p50_ms` / `otel_overhead_p99_ms` (the same targets hold: p50 < 5 ms, p99 < 25 ms).
 * Last line: {"bench":"agent","overhead_p50_ms":N,"overhead_p99_ms":N,"otel_overhead_p50_ms":N,
 * "otel_overhead_p99_ms":N,"turns_per_s":N,"lost":0,"duplicated":0}
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import { makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { decodeRequest, encodeEvent } from "../../eventing/cloudevent/http-codec.ts";
import { createApp as createAgentApp } from "../../functions/agent/app.ts";
import type { LanguageModel, ModelRequest, ModelResponse } from "../../functions/agent/providers/model.ts";
import { createHttpFetch } from "../../runtime/http/fetch.ts";
import { generateSigningKey } from "../../runtime/keys.ts";
import { serve } from "../../runtime/serve.ts";
import { startTelemetry } from "../../runtime/telemetry.ts";
import { deleteKeysWithPrefix } from "../functions/agent/support/redis-cleanup.ts";
import { eventKeysEnv, signAs } from "../support/event-keys.ts";
import { freePort } from "../support/free-port.ts";

const CONVERSATIONS = Number(process.env.AGENT_BENCH_CONVERSATIONS ?? 200);
const CAPACITY_TURNS = Number(process.env.AGENT_BENCH_CAPACITY_TURNS ?? 2000);
const LATENCY_TURNS = Number(process.env.AGENT_BENCH_LATENCY_TURNS ?? 2000);
const LOAD_FACTOR = 0.4;
/** Each conversation writes every this many milliseconds on average in the latency phase. */
const THINK_MS = Number(process.env.AGENT_BENCH_THINK_MS ?? 2000);

/** Zero-latency model: answers at once with the turn token; records how long each answer took. */
class ZeroModel implements LanguageModel {
  readonly provider = "bench";
  readonly modelId = "zero";
  readonly streams = false;
  readonly spent = new Map<string, number>();
  async generate(request: ModelRequest): Promise<ModelResponse> {
    const started = performance.now();
    const last = request.messages.at(-1);
    const token = last && last.role === "user" ? last.content : "";
    const response: ModelResponse = {
      text: `ack ${token}`,
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 10, outputTokens: 2 },
    };
    this.spent.set(token, (this.spent.get(token) ?? 0) + (performance.now() - started));
    return response;
  }
  stream(request: ModelRequest): Promise<ModelResponse> {
    return this.generate(request);
  }
}

/** The broker stand-in at K_SINK: accepts events (202) and timestamps each message.send by the turn it answers. */
function startSink() {
  const arrivals = new Map<string, { at: number; ids: Set<string>; count: number }>();
  const waiters = new Map<string, () => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const at = performance.now();
      if (req.headers["ce-type"] === T.MESSAGE_SEND) {
        const text = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { text: string }).text;
        const token = text.replace(/^ack /, "");
        const seen = arrivals.get(token) ?? { at, ids: new Set<string>(), count: 0 };
        seen.ids.add(String(req.headers["ce-id"]));
        seen.count += 1;
        arrivals.set(token, seen);
        waiters.get(token)?.();
        waiters.delete(token);
      }
      res.writeHead(202);
      res.end();
    });
  });
  return {
    server,
    arrivals,
    arrived(token: string): Promise<void> {
      if (arrivals.has(token)) return Promise.resolve();
      return new Promise((resolve) => waiters.set(token, resolve));
    },
  };
}

async function startMemoryProcess(env: Record<string, string>): Promise<{ url: string; shutdown(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env.AGENT_BENCH_PROFILE_MEMORY ? ["--cpu-prof", "--cpu-prof-dir=/tmp/memprof"] : []),
      fileURLToPath(new URL("../../functions/memory/main.ts", import.meta.url)),
    ],
    {
      env: { PATH: process.env.PATH ?? "", ...env, PORT: String(port) },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("the memory service exited during start");
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error("the memory service did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    shutdown: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number) => Math.round(n * 100) / 100;
const keys = generateSigningKey();
const secret = randomBytes(24).toString("base64url");
const prefix = `bench-agent-${randomBytes(4).toString("hex")}:`;

// The memory service runs as its own process, as its ksvc would: it gets its own core instead of sharing the agent's.
const memory = await startMemoryProcess({
  KNCLAW_MEMORY_TOKEN_SECRET: secret,
  KNCLAW_MEMORY_BACKEND: "redis",
  KNCLAW_REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  KNCLAW_REDIS_KEY_PREFIX: prefix,
  KNCLAW_LOG_LEVEL: "silent",
});
const sink = startSink();
const sinkUrl = await listen(sink.server);
const model = new ZeroModel();
const agentApp = await createAgentApp(
  {
    KNCLAW_INSTANCE: "bench",
    KNCLAW_MODEL: "bench/zero",
    KNCLAW_POLICY: JSON.stringify({ budgets: { tokens: 100_000, modelTurns: 10 } }),
    KNCLAW_AGENT: JSON.stringify({ session: { scope: "channel-sender" } }),
    KNCLAW_MEMORY_URL: memory.url,
    KNCLAW_MEMORY_TOKEN: mintMemoryToken(secret, { kind: "instance", instance: "bench" }),
    KNCLAW_SIGNING_KEY: keys.privateKeyPem,
    // Signing and verification on, as on every platform: turns arrive signed by the Slack adapter's key.
    ...eventKeysEnv(undefined, ["channel/slack"]),
    KNCLAW_LOG_LEVEL: "silent",
    K_SINK: sinkUrl,
  },
  { model, ...(process.env.AGENT_BENCH_DEBUG ? { fetch: tracedFetch } : {}) },
);
const agent = await serve(agentApp, { port: 0, host: "127.0.0.1" });

// Baseline: the smallest useful function — decode one event, emit one event to the same sink, answer.
const baselineBroker = new BrokerClient({ sink: sinkUrl });
const baselineHono = new Hono();
baselineHono.post("/", async (c) => {
  const event = await decodeRequest(c.req.raw);
  const data = JSON.parse(new TextDecoder().decode(event.data)) as { text: string };
  const id = `base-${event.attributes.id}`;
  await baselineBroker.emit(
    makeEvent(T.MESSAGE_SEND, {
      id,
      source: "/bench",
      data: {
        instance: "bench",
        route: { channel: "slack", conversation: "C" },
        text: `ack ${data.text}`,
        idempotencyKey: id,
      },
    }),
  );
  return c.body(null, 200);
});
const baseline = await serve({ fetch: (request) => baselineHono.fetch(request) }, { port: 0, host: "127.0.0.1" });

const slow = new Map<string, number>();
async function tracedFetch(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const started = performance.now();
  const response = await fetch(request);
  const took = performance.now() - started;
  const key = `${request.method} ${new URL(request.url).pathname.replace(/\/[^/]*$/, "/*")} ${response.status}`;
  if (took > 200 || !response.ok) slow.set(key, (slow.get(key) ?? 0) + 1);
  return response;
}
process.on("exit", () => {
  if (process.env.AGENT_BENCH_DEBUG) console.error("slow or failed calls:", Object.fromEntries(slow));
});

/** A turn as the Slack adapter emits it: signed (its signing is part of each turn's measured time). */
function turnEvent(conversation: number, token: string): CloudEvent {
  return signAs(
    "channel/slack",
    makeEvent(T.MESSAGE_RECEIVED, {
      source: "/bench/slack",
      data: {
        instance: "bench",
        channel: "slack",
        messageId: `${token}`,
        conversation: `C${conversation}`,
        sender: { channel: "slack", id: `U${conversation}` },
        text: token,
        replyTo: { channel: "slack", conversation: `C${conversation}` },
        receivedAt: new Date().toISOString(),
      },
    }),
  );
}

// Deliveries go out as the embedded broker sends them: node:http with keep-alive, not the heavier fetch.
const deliver = createHttpFetch();

async function post(url: string, event: CloudEvent): Promise<number> {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await deliver(url, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  await response.body?.cancel();
  return response.status;
}

interface Turn {
  token: string;
  sentAt: number;
  status: number;
}

/** One turn: post, wait for the answer at the sink (with a safety timeout that counts it as lost). */
async function turn(url: string, conversation: number, token: string): Promise<Turn> {
  const sentAt = performance.now();
  const arrived = sink.arrived(token);
  const status = await post(url, turnEvent(conversation, token));
  // The safety timer is cleared once the answer is in: left running, every turn's timer (and the promises it holds)
  // would live 10 s in this process, the one being measured, and be promoted by every scavenge.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([arrived, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
  return { token, sentAt, status };
}

/** Closed loop: each conversation sends its next turn when the previous answer arrived. */
async function closedLoop(url: string, label: string, total: number): Promise<{ turns: Turn[]; seconds: number }> {
  const turns: Turn[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, conversation) => {
      while (next < total) {
        next += 1;
        turns.push(await turn(url, conversation, `${label}-${conversation}-${next}`));
      }
    }),
  );
  return { turns, seconds: (performance.now() - started) / 1000 };
}

/** Open loop at `rate` turns/s overall, Poisson arrivals, spread over the conversations (each turn after the last). */
async function openLoop(url: string, label: string, total: number, rate: number): Promise<Turn[]> {
  const turns: Turn[] = [];
  const busy = new Set<number>();
  const pending: Promise<void>[] = [];
  let at = performance.now();
  for (let i = 0; i < total; i++) {
    at += -Math.log(1 - Math.random()) * (1000 / rate);
    const wait = at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    let conversation = i % CONVERSATIONS;
    for (let probe = 0; probe < CONVERSATIONS && busy.has(conversation); probe++)
      conversation = (conversation + 1) % CONVERSATIONS;
    busy.add(conversation);
    pending.push(
      turn(url, conversation, `${label}-${conversation}-${i}`).then((result) => {
        turns.push(result);
        busy.delete(conversation);
      }),
    );
  }
  await Promise.all(pending);
  return turns;
}

function latencies(turns: Turn[], subtractModel: boolean): { values: number[]; lost: number; duplicated: number } {
  const values: number[] = [];
  let lost = 0;
  let duplicated = 0;
  for (const t of turns) {
    const arrival = sink.arrivals.get(t.token);
    if (arrival === undefined || t.status !== 200) {
      lost += 1;
      continue;
    }
    if (arrival.ids.size !== 1 || arrival.count !== 1) duplicated += 1;
    values.push(arrival.at - t.sentAt - (subtractModel ? (model.spent.get(t.token) ?? 0) : 0));
  }
  return { values, lost, duplicated };
}

// Warm-up (JIT, connection pools, Redis scripts) on both paths.
await closedLoop(`${agent.url}/`, "warm", 400);
await closedLoop(`${baseline.url}/`, "warmbase", 400);

const capacity = await closedLoop(`${agent.url}/`, "cap", CAPACITY_TURNS);
const capacityStats = latencies(capacity.turns, true);
const turnsPerSecond = capacity.turns.length / capacity.seconds;
const baselineCapacity = await closedLoop(`${baseline.url}/`, "capbase", CAPACITY_TURNS);
const baselineTps = baselineCapacity.turns.length / baselineCapacity.seconds;

const rate = Math.min((CONVERSATIONS * 1000) / THINK_MS, turnsPerSecond * LOAD_FACTOR);
const latencyTurns = await openLoop(`${agent.url}/`, "lat", LATENCY_TURNS, rate);
const measured = latencies(latencyTurns, true);
const baselineMeasured = latencies(await openLoop(`${baseline.url}/`, "latbase", LATENCY_TURNS, rate), false);

// The same latency phase with the OpenTelemetry SDK on and exporting (OTLP/HTTP protobuf to a collector stand-in on
// loopback): the delivery, step, model and broker-client spans, metrics and trace propagation all at work.
const collector = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
});
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = await listen(collector);
const telemetry = await startTelemetry(process.env, { serviceName: "agent-bench" });
await closedLoop(`${agent.url}/`, "warmotel", 400);
const telemetryMeasured = latencies(await openLoop(`${agent.url}/`, "latotel", LATENCY_TURNS, rate), true);
await telemetry.shutdown();
collector.close();

if (process.env.AGENT_BENCH_DEBUG) {
  const worst = latencyTurns
    .map((t) => ({
      token: t.token,
      at: t.sentAt - latencyTurns[0]!.sentAt,
      took: (sink.arrivals.get(t.token)?.at ?? 0) - t.sentAt,
    }))
    .sort((a, b) => b.took - a.took)
    .slice(0, 15);
  for (const w of worst) console.log("slow turn", w.token, `at ${round(w.at)} ms`, `took ${round(w.took)} ms`);
}
const p50 = percentile(measured.values, 50);
const p99 = percentile(measured.values, 99);
const baseP50 = percentile(baselineMeasured.values, 50);
const baseP99 = percentile(baselineMeasured.values, 99);
const otelP50 = percentile(telemetryMeasured.values, 50);
const otelP99 = percentile(telemetryMeasured.values, 99);
const lost = capacityStats.lost + measured.lost + telemetryMeasured.lost;
const duplicated = capacityStats.duplicated + measured.duplicated + telemetryMeasured.duplicated;

console.log(
  `conversations: ${CONVERSATIONS}; capacity phase ${capacity.turns.length} turns, latency phase ${LATENCY_TURNS} turns at ${round(rate)} turns/s (${round((100 * rate) / turnsPerSecond)}% of capacity)`,
);
console.log(
  `capacity: agent ${round(turnsPerSecond)} turns/s (closed-loop p50 ${round(percentile(capacityStats.values, 50))} ms, queueing included); baseline hop ${round(baselineTps)} events/s`,
);
console.log(
  `overhead per turn: p50 ${round(p50)} ms, p99 ${round(p99)} ms (model time subtracted: mean ${round([...model.spent.values()].reduce((a, b) => a + b, 0) / Math.max(1, model.spent.size))} ms)`,
);
console.log(
  `baseline one-hop function: p50 ${round(baseP50)} ms, p99 ${round(baseP99)} ms; ratio agent/baseline p50 ${round(p50 / Math.max(baseP50, 0.001))}x`,
);
console.log(
  `overhead per turn with OpenTelemetry exporting: p50 ${round(otelP50)} ms, p99 ${round(otelP99)} ms (targets: p50 < 5 ms, p99 < 25 ms)`,
);
console.log(`lost ${lost}, duplicated ${duplicated}`);
for (const [token, a] of sink.arrivals)
  if (a.count > 1 || a.ids.size > 1) console.log("dup", token, a.count, [...a.ids]);

await deliver.close();
await agent.shutdown();
await baseline.shutdown();
await memory.shutdown();
await deleteKeysWithPrefix(prefix, process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
await new Promise<void>((resolve) => sink.server.close(() => resolve()));
sink.server.closeAllConnections();

console.log(
  JSON.stringify({
    bench: "agent",
    overhead_p50_ms: round(p50),
    overhead_p99_ms: round(p99),
    otel_overhead_p50_ms: round(otelP50),
    otel_overhead_p99_ms: round(otelP99),
    turns_per_s: round(turnsPerSecond),
    lost,
    duplicated,
  }),
);
process.exit(0);
