/**
 * `npm run bench -- soak`: does `knclaw dev` hold on to memory run after run? 3,000 runs (SOAK_RUNS) go through the
 * whole platform in this process: message.received into the broker ingress, the agent (the demo model, which calls
 * the built-in time skill's `now` because the message names it), tool.requested to the time skill, tool.completed
 * back, the answer, run.completed to a counting subscriber; the memory service keeps everything on Redis (REDIS_URL,
 * default the local one, under a prefix deleted at the end). 20 runs are in flight at a time.
 *
 * The heap is measured after a warm-up and again after the runs and an idle second, each time after forced garbage
 * collection (gc() exposed at run time through v8.setFlagsFromString), so what is left is what the process keeps:
 * `heap_growth_mb_per_1000_runs` must stay under 2. Per-replica caches bounded by count (the skill runtime's reply
 * cache, the agent's blob cache) fill during the runs and count as growth, as they would in a long-lived pod.
 *
 * Baseline in the same run: the same number of HTTP round trips (four per run, as a run's deliveries) against a
 * no-op node:http server in this process, measured the same way; the ratio compares the two growths (each floored at
 * 0.01 MB per 1,000, below what the measurement resolves).
 * Last line: {"bench":"soak","runs":N,"rss_start_mb":N,"rss_end_mb":N,"heap_growth_mb_per_1000_runs":N}
 *
 * SOAK_SAMPLE_EVERY=N also prints the process's memory to stderr every N runs, without forcing GC: one JSON line each
 * with RSS, its anonymous part and how much of that is lazily freed pages, the heap in use and reserved, memory
 * outside the heap, ArrayBuffers and what V8 itself malloc'd. It tells a leak (the heap or the buffers rising with the
 * runs) from retention by the allocators (RSS rising to a plateau while they stay flat); cli/dev/README.md, "Memory".
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type DevRuntime, startDev } from "../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { encodeEvent } from "../../eventing/cloudevent/http-codec.ts";
import { validateConfigValue } from "../../knative/config/load.ts";
import { render } from "../../knative/render/index.ts";
import { createHttpFetch } from "../../runtime/http/fetch.ts";
import { deleteKeysWithPrefix } from "../functions/agent/support/redis-cleanup.ts";
import { devTrustEnv, signAs } from "../support/event-keys.ts";

const RUNS = Number(process.env.SOAK_RUNS ?? 3000);
const WARMUP_RUNS = Number(process.env.SOAK_WARMUP_RUNS ?? 300);
const SAMPLE_EVERY = Number(process.env.SOAK_SAMPLE_EVERY ?? 0);
const IN_FLIGHT = 20;
const SENDERS = 100;
const HOPS_PER_RUN = 4;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const MB = 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap in use once garbage collection has run to a fixed point (twice, with the microtasks between). */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** A `<field>: <n> kB` line of a Linux /proc file, in MB; undefined elsewhere. */
function procField(file: string, field: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(file, "utf8"))?.[1];
  return kb === undefined ? undefined : round(Number(kb) / 1024);
}

/** On stderr, written at once: the functions' sync log lines on stdout never split it. */
function printSample(phase: string, runs: number): void {
  const memory = process.memoryUsage();
  const heap = getHeapStatistics();
  const line = JSON.stringify({
    sample: phase,
    runs,
    rss_mb: round(memory.rss / MB),
    // The anonymous part of RSS (heaps, malloc arenas, buffers; not the mapped code), and how much of it is pages
    // given back with MADV_FREE that the kernel has not taken yet (counted in RSS until memory runs short).
    rss_anon_mb: procField("/proc/self/status", "RssAnon") ?? null,
    lazy_free_mb: procField("/proc/self/smaps_rollup", "LazyFree") ?? null,
    heap_used_mb: round(memory.heapUsed / MB),
    heap_total_mb: round(memory.heapTotal / MB),
    external_mb: round(memory.external / MB),
    array_buffers_mb: round(memory.arrayBuffers / MB),
    v8_malloced_mb: round(heap.malloced_memory / MB),
    v8_peak_malloced_mb: round(heap.peak_malloced_memory / MB),
  });
  writeSync(2, `${line}\n`);
}
const prefix = `bench-soak-${randomBytes(4).toString("hex")}:`;

/** Counts run.completed / run.failed; keeps nothing per event, so it adds nothing to the heap it measures. */
function startRunCounter() {
  let completed = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const server = createServer((req, res) => {
    const type = req.headers["ce-type"];
    req.resume();
    req.on("end", () => {
      if (type === T.RUN_COMPLETED) completed += 1;
      else if (type === T.RUN_FAILED) failed += 1;
      res.writeHead(200).end();
      counter.onEnd?.(completed + failed);
      wake?.();
    });
  });
  const counter = {
    server,
    /** Called at every run end with the number ended so far (SOAK_SAMPLE_EVERY). */
    onEnd: undefined as ((ended: number) => void) | undefined,
    get ended() {
      return completed + failed;
    },
    get failed() {
      return failed;
    },
    /** Resolves at the next run end. */
    next: () => new Promise<void>((resolve) => (wake = resolve)),
  };
  return counter;
}

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const counter = startRunCounter();
const counterUrl = await listen(counter.server);

const config = validateConfigValue({
  apiVersion: "knclaw.dev/v1alpha1",
  kind: "Platform",
  metadata: { name: "knclaw", namespace: "knclaw" },
  images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
  broker: {
    name: "default",
    delivery: { retry: 3, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
    deadLetterSink: { disabled: true },
  },
  memory: { redis: { url: { secret: "soak-redis", key: "url" }, keyPrefix: prefix } },
  gateway: { enabled: false },
  policies: { default: { budgets: { toolCalls: 5 }, termination: { maxTurns: 4 } } },
  skills: { time: {} },
  instances: { soak: { model: "demo/demo", policy: "default", skills: ["time"] } },
});
// Functions log at warn: 3,000 runs of info lines would measure the terminal, not the platform.
const objects = (render(config) as unknown as KnativeObject[]).map(quiet);
function quiet(object: KnativeObject): KnativeObject {
  const containers = (object.spec as { template?: { spec?: { containers?: Array<{ env?: unknown[] }> } } } | undefined)
    ?.template?.spec?.containers;
  for (const container of containers ?? []) {
    container.env = [...(container.env ?? []), { name: "KNCLAW_LOG_LEVEL", value: "warn" }];
  }
  return object;
}
const catchers: KnativeObject[] = [T.RUN_COMPLETED, T.RUN_FAILED].map((type, index) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name: `soak-run-ends-${index}`, namespace: "knclaw" },
  spec: { broker: "default", filter: { attributes: { type } }, subscriber: { uri: counterUrl } },
}));
const dev: DevRuntime = await startDev({
  objects: [...objects, ...catchers],
  port: 0,
  schedulePings: false,
  drainTimeoutMs: 5_000,
  // The Slack adapter this bench plays signs its messages; the platform trusts it.
  env: { SOAK_REDIS_URL: REDIS_URL, ...devTrustEnv({ producers: ["channel/slack"] }) },
});
const ingress = dev.brokers[0]!.url;
const post = createHttpFetch();

let sequence = 0;
async function startRun(): Promise<void> {
  sequence += 1;
  const sender = `U${sequence % SENDERS}`;
  const event = makeEvent(T.MESSAGE_RECEIVED, {
    source: "/knclaw/channels/slack",
    data: {
      instance: "soak",
      channel: "slack",
      messageId: `soak-${sequence}`,
      conversation: `C${sender}`,
      sender: { channel: "slack", id: sender },
      text: "what time is it now?",
      attachments: [],
      replyTo: { channel: "slack", conversation: `C${sender}` },
      receivedAt: new Date().toISOString(),
    },
  });
  const { headers, body } = encodeEvent(signAs("channel/slack", event), "binary");
  const response = await post(ingress, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  await response.body?.cancel();
  if (response.status !== 202) throw new Error(`the broker answered ${response.status}`);
}

/** `count` runs, IN_FLIGHT at a time, each started when an earlier one ended; resolves when all have ended. */
async function soak(count: number, phase: string): Promise<number> {
  const target = counter.ended + count;
  const started = performance.now();
  let sent = 0;
  if (SAMPLE_EVERY > 0) {
    const before = counter.ended;
    counter.onEnd = (ended) => {
      if ((ended - before) % SAMPLE_EVERY === 0) printSample(phase, ended - before);
    };
  }
  while (sent < Math.min(IN_FLIGHT, count)) {
    await startRun();
    sent += 1;
  }
  while (counter.ended < target) {
    await counter.next();
    while (sent < count && sent - (counter.ended - (target - count)) < IN_FLIGHT) {
      await startRun();
      sent += 1;
    }
  }
  counter.onEnd = undefined;
  return (performance.now() - started) / 1000;
}

/** The baseline: `count` POSTs of a small body to a no-op server in this process, IN_FLIGHT at a time. */
async function noOpCalls(url: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        next += 1;
        const response = await post(url, { method: "POST", body: `{"call":${next}}` });
        await response.body?.cancel();
      }
    }),
  );
}

async function idle(): Promise<void> {
  await dev.idle();
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

// Warm-up: JIT, connection pools, Redis scripts, the bounded caches' steady state begins here.
await soak(WARMUP_RUNS, "warmup");
await idle();
const heapStart = await settledHeap();
const { rss: rssStart, external: externalStart, heapTotal: reservedStart } = process.memoryUsage();
const seconds = await soak(RUNS, "runs");
await idle();
if (SAMPLE_EVERY > 0) printSample("idle", RUNS);
const heapEnd = await settledHeap();
const { rss: rssEnd, external: externalEnd, heapTotal: reservedEnd } = process.memoryUsage();
const growthPer1000 = ((heapEnd - heapStart) / MB / RUNS) * 1000;

const noOp = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200).end());
});
const noOpUrl = await listen(noOp);
await noOpCalls(noOpUrl, WARMUP_RUNS * HOPS_PER_RUN);
const baselineStart = await settledHeap();
await noOpCalls(noOpUrl, RUNS * HOPS_PER_RUN);
await new Promise((resolve) => setTimeout(resolve, 1000));
const baselineEnd = await settledHeap();
const baselinePer1000 = ((baselineEnd - baselineStart) / MB / RUNS) * 1000;

const failed = counter.failed;
await dev.shutdown();
await post.close();
noOp.close();
counter.server.close();
counter.server.closeAllConnections();
await deleteKeysWithPrefix(prefix, REDIS_URL);

console.log(
  `soak: ${RUNS} runs in ${round(seconds)} s (${round(RUNS / seconds)} runs/s, ${IN_FLIGHT} in flight, ${failed} failed), each message.received -> time.now -> answer`,
);
console.log(
  `heap after GC: ${round(heapStart / MB)} MB -> ${round(heapEnd / MB)} MB, growth ${round(growthPer1000)} MB per 1,000 runs (limit 2); heap reserved ${round(reservedStart / MB)} MB -> ${round(reservedEnd / MB)} MB; outside the heap (buffers) ${round(externalStart / MB)} MB -> ${round(externalEnd / MB)} MB; RSS ${round(rssStart / MB)} MB -> ${round(rssEnd / MB)} MB`,
);
console.log(
  `baseline, ${RUNS * HOPS_PER_RUN} no-op HTTP calls: heap growth ${round(baselinePer1000)} MB per 1,000 runs' worth; ratio soak/baseline ${round(Math.max(growthPer1000, 0.01) / Math.max(baselinePer1000, 0.01))}x`,
);
console.log(
  JSON.stringify({
    bench: "soak",
    runs: RUNS,
    rss_start_mb: round(rssStart / MB),
    rss_end_mb: round(rssEnd / MB),
    heap_growth_mb_per_1000_runs: round(growthPer1000),
  }),
);
process.exit(failed === 0 && growthPer1000 < 2 ? 0 : 1);
