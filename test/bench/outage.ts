/**
 * `npm run bench -- outage`: how fast `knclaw dev --redis` says "not now" while Redis is down, and how soon it works
 * again. The memory service and the broker's journal run on a redis-server of the bench's own (an OS-chosen port);
 * each API is called OUTAGE_CALLS times with Redis up (the baseline, in the same run), then with Redis killed (-9),
 * then Redis is started again and the bench waits for a run to be accepted and completed.
 *
 * APIs: the gateway's `POST /api/v1/instances/{i}/runs` and `GET /api/v1/runs/{id}`, `POST /v1/chat/completions`
 * (non-streaming, so its answer while up waits for the run), the memory service's `GET` of a run, a signed webhook, the
 * broker ingress. While Redis is down every answer must be 503 with Retry-After (the bench exits 1 otherwise); its
 * latency is from the request to the whole answer.
 * Last line: {"bench":"outage","down_p50_ms":N,"down_p99_ms":N,"down_max_ms":N,"up_p50_ms":N,"ratio":N,
 * "recovery_ms":N}; `ratio` is down p50 over up p50 (how much faster a refusal is than an answer).
 */
import { createHmac, randomBytes } from "node:crypto";
import { type DevRuntime, startDev } from "../../cli/dev/start-dev.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { validateConfigValue } from "../../knative/config/load.ts";
import { render } from "../../knative/render/index.ts";
import { ownRedis } from "../support/redis-server.ts";

const CALLS = Number(process.env.OUTAGE_CALLS ?? 50);
const GATEWAY_TOKEN = randomBytes(24).toString("base64url");
const MEMORY_SECRET = randomBytes(24).toString("base64url");
const HOOK_SECRET = "webhook-secret-for-the-outage-bench";

const config = validateConfigValue({
  apiVersion: "knclaw.dev/v1alpha1",
  kind: "Platform",
  metadata: { name: "knclaw", namespace: "knclaw" },
  images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
  broker: { name: "default", deadLetterSink: { disabled: true } },
  memory: {},
  gateway: {
    tokens: { cli: { secret: "gateway", key: "cli" } },
    maxWaitSeconds: 30,
    // The bench calls far faster than a client should: its token must not be the limit.
    rateLimit: { requestsPerMinute: 1_000_000, burst: 100_000 },
  },
  policies: { default: {} },
  instances: { assistant: { model: "demo/echo" } },
  channels: {
    webhook: {
      secrets: { signingSecret: { secret: "hooks", key: "signing" } },
      hooks: { alerts: { instance: "assistant", task: "Summarise {{alert}}" } },
    },
  },
});

const redis = await ownRedis(["--appendonly", "yes"]);
const dev: DevRuntime = await startDev({
  objects: render(config) as unknown as KnativeObject[],
  port: 0,
  schedulePings: false,
  drainTimeoutMs: 5_000,
  redisUrl: redis.url,
  brokerStore: { kind: "redis", url: redis.url, keyPrefix: "knclaw-outage-bench:" },
  env: { GATEWAY_CLI: GATEWAY_TOKEN, KNCLAW_MEMORY_TOKENS_SECRET: MEMORY_SECRET, HOOKS_SIGNING: HOOK_SECRET },
  log: { debug() {}, info() {}, warn() {}, error() {} },
});

const gateway = { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" };
const operator = { authorization: `Bearer ${mintMemoryToken(MEMORY_SECRET, { kind: "operator" })}` };
let calls = 0;

async function startRun(): Promise<string> {
  const answer = await fetch(`${dev.url}/api/v1/instances/assistant/runs`, {
    method: "POST",
    headers: { ...gateway, prefer: "wait=30" },
    body: JSON.stringify({ task: "hello" }),
  });
  const body = (await answer.json()) as { runId?: string; status?: string };
  if (answer.status !== 200 || body.status !== "completed") throw new Error(`run not completed: ${answer.status}`);
  return body.runId!;
}

const runId = await startRun();

/** Each API as one request, fresh per call (signatures and event ids must not repeat). */
const apis: Record<string, () => Request> = {
  "POST /api/v1/.../runs": () =>
    new Request(`${dev.url}/api/v1/instances/assistant/runs`, {
      method: "POST",
      headers: gateway,
      body: JSON.stringify({ task: "hello" }),
    }),
  "GET /api/v1/runs/{id}": () => new Request(`${dev.url}/api/v1/runs/${runId}`, { headers: gateway }),
  "POST /v1/chat/completions": () =>
    new Request(`${dev.url}/v1/chat/completions`, {
      method: "POST",
      headers: gateway,
      body: JSON.stringify({ model: "knclaw:assistant", messages: [{ role: "user", content: "hi" }] }),
    }),
  "GET memory run": () =>
    new Request(`${dev.url}/functions/memory/v1/instances/assistant/runs/${runId}`, { headers: operator }),
  "POST webhook": () => {
    calls += 1;
    const body = JSON.stringify({ alert: `disk full ${calls}` });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac("sha256", HOOK_SECRET).update(`${timestamp}.${body}`).digest("hex");
    return new Request(`${dev.url}/channels/webhook/alerts`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-knclaw-timestamp": timestamp,
        "x-knclaw-signature": `sha256=${signature}`,
      },
      body,
    });
  },
  "POST broker ingress": () => {
    calls += 1;
    return new Request(`${dev.url}/knclaw/default`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `outage-bench-${calls}`,
        "ce-source": "/outage-bench",
        "ce-type": "dev.knclaw.run.completed",
        "content-type": "application/json",
      },
      body: "{}",
    });
  },
};

/** Latencies (ms) of CALLS requests per API, one at a time; `check` sees every answer. */
async function measure(check: (name: string, answer: Response) => void): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, make] of Object.entries(apis)) {
    const latencies: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now();
      const answer = await fetch(make());
      await answer.arrayBuffer();
      latencies.push(performance.now() - started);
      check(name, answer);
    }
    out[name] = latencies.sort((a, b) => a - b);
  }
  return out;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 100) / 100;

const up = await measure(() => {});
await redis.kill9();
const wrong: string[] = [];
const down = await measure((name, answer) => {
  if (answer.status !== 503 || answer.headers.get("retry-after") === null) {
    wrong.push(`${name}: ${answer.status} retry-after=${answer.headers.get("retry-after")}`);
  }
});
const restarted = performance.now();
await redis.start();
for (;;) {
  try {
    await startRun();
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const recoveryMs = performance.now() - restarted;

console.log("api                         up p50   down p50  down p99  down max   (ms)");
for (const name of Object.keys(apis)) {
  const [u, d] = [up[name]!, down[name]!];
  console.log(
    `${name.padEnd(26)} ${[quantile(u, 0.5), quantile(d, 0.5), quantile(d, 0.99), d[d.length - 1]!]
      .map((ms) => round(ms).toFixed(2).padStart(8))
      .join("  ")}`,
  );
}
console.log(`recovery: Redis started -> a run accepted and completed in ${round(recoveryMs)} ms`);
if (wrong.length > 0) console.log(`not 503 + Retry-After while down:\n  ${[...new Set(wrong)].join("\n  ")}`);
const allDown = Object.values(down)
  .flat()
  .sort((a, b) => a - b);
const allUp = Object.values(up)
  .flat()
  .sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: "outage",
    down_p50_ms: round(quantile(allDown, 0.5)),
    down_p99_ms: round(quantile(allDown, 0.99)),
    down_max_ms: round(allDown[allDown.length - 1]!),
    up_p50_ms: round(quantile(allUp, 0.5)),
    ratio: round(quantile(allDown, 0.5) / quantile(allUp, 0.5)),
    recovery_ms: Math.round(recoveryMs),
  }),
);
await dev.shutdown();
await redis.stop();
process.exit(wrong.length > 0 ? 1 : 0);
