/**
 * `npm run bench -- broker`: the embedded broker under `knclaw dev`, in one process.
 *
 * A load client (node:http, keep-alive) posts binary CloudEvents over loopback to the ingress, with one matching
 * Trigger whose subscriber is (a) a function mounted in-process or (b) an HTTP server on loopback. Baseline, same run:
 * the same client posting straight to that HTTP server. Also the fan-out case: one event matching 10 Triggers.
 *
 * knclaw dev (the system under test) runs on the main thread; the load client and the HTTP subscriber run together
 * in one worker thread (_broker-load.ts), for the baseline as for the broker runs, so the load generator never
 * competes for the event loop it is measuring. Both threads share this machine's 2 cores.
 *
 * Throughput is closed-loop with bounded concurrency (CONCURRENCY events in flight end to end: an event counts as done
 * when its subscriber has received it, not when the ingress said 202), in ROUNDS rounds that run every phase in turn
 * (see _broker-load.ts); `ratio` is the median of the per-round ratios. Latency is measured at a paced 1,000 events/s
 * (open loop: each event's latency counts from its due time to its arrival at the subscriber), after the warm-up and
 * before the unpaced rounds.
 *
 * Tokens row: the same (a) path on a runtime with Knative's authentication-oidc emulated (cli/dev/oidc.ts): the load
 * client presents a ServiceAccount token, the ingress verifies it (ES256) and the sender's subject against the default
 * authorization mode, the delivery carries a token for the function's audience, and the function verifies it with the
 * function runtime's check (jose, ES256), with its ratio to the baseline of the same rounds and its latency.
 *
 * Durable rows: the same (b) path on a second and a third runtime whose broker stores every delivery before the 202
 * (SQLite in a temp directory, as `knclaw dev` does by default; Redis Streams on a redis-server the bench starts itself
 * with an append-only file, see startDurableRedis), each with its ratio to the baseline of the same rounds and its
 * latency at 1,000 events/s.
 * Last line: {"bench":"broker","events_per_s":N,"p50_ms":N,"p99_ms":N,"baseline_events_per_s":N,"ratio":N,
 * "fanout10_deliveries_per_s":N,...,"durable_sqlite_events_per_s":N,"durable_sqlite_ratio":N,"durable_sqlite_p99_ms":N,
 * "durable_redis_events_per_s":N,"durable_redis_ratio":N,"durable_redis_p99_ms":N,"tokens_inprocess_events_per_s":N,
 * "tokens_inprocess_ratio":N,"tokens_inprocess_p99_ms":N}
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { parseAllDocuments } from "yaml";
import { startDev } from "../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import type { LoadInit, Phase, PhaseResult } from "./support/broker-load.ts";
import { arrivals } from "./support/broker-subscriber-app.ts";

const CONCURRENCY = Number(process.env.BROKER_BENCH_CONCURRENCY ?? 64);
// Nine rounds: on a shared 2-core VM single rounds of (b) range from 0.4 to 0.9 of the baseline (a neighbour's burst
// lands in one phase and not the next), and the median of five moved by 0.1 between runs of the same code.
const ROUNDS = Number(process.env.BROKER_BENCH_ROUNDS ?? 9);
const ROUND_MS = Number(process.env.BROKER_BENCH_ROUND_MS ?? 1000);
const PACED_EVENTS = Number(process.env.BROKER_BENCH_PACED_EVENTS ?? 5000);
const SLOTS = 4_000_000;
const root = fileURLToPath(new URL("../..", import.meta.url));
const appEntry = relative(root, fileURLToPath(new URL("./support/broker-subscriber-app.ts", import.meta.url)));

// Arrivals at the in-process function: time and flag per event number, read by the load thread.
const flagsBuffer = new SharedArrayBuffer(SLOTS * 4);
const timesBuffer = new SharedArrayBuffer(SLOTS * 8);
const flags = new Int32Array(flagsBuffer);
const times = new Float64Array(timesBuffer);
arrivals.onEvent = (id) => {
  const n = Number(id.slice(1));
  times[n] = performance.timeOrigin + performance.now();
  Atomics.store(flags, n, 1);
  Atomics.notify(flags, n);
};

const init: LoadInit = {
  flags: flagsBuffer,
  times: timesBuffer,
  concurrency: CONCURRENCY,
  unpacedMs: ROUND_MS,
  pacedRate: 1000,
  pacedEvents: PACED_EVENTS,
};
const load = new Worker(new URL("./support/broker-load.ts", import.meta.url), { workerData: init });
const { subscriberUrl } = await new Promise<{ subscriberUrl: string }>((resolve, reject) => {
  load.once("message", resolve);
  load.once("error", reject);
});

function objects(): KnativeObject[] {
  const fanout = Array.from(
    { length: 10 },
    (_, i) => `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: fanout-${i}, namespace: bench }
spec:
  broker: default
  filter: { attributes: { type: bench.fanout } }
  subscriber: { uri: "${subscriberUrl}/fanout-${i}" }`,
  ).join("\n");
  const yaml = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: bench }
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: inproc
  namespace: bench
  annotations: { knclaw.dev/entry: ${appEntry} }
spec:
  template:
    spec:
      containers: [ { image: "ghcr.io/knclaw/bench:0" } ]
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-inproc, namespace: bench }
spec:
  broker: default
  filter: { attributes: { type: bench.inproc } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: inproc } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-http, namespace: bench }
spec:
  broker: default
  filter: { attributes: { type: bench.http } }
  subscriber: { uri: "${subscriberUrl}/http" }
${fanout}`;
  return parseAllDocuments(yaml).map((doc) => doc.toJS() as KnativeObject);
}

/** Broker and the (b) Trigger only: what the durable rows measure. */
function durableObjects(): KnativeObject[] {
  return parseAllDocuments(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: bench }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-http, namespace: bench }
spec:
  broker: default
  filter: { attributes: { type: bench.http } }
  subscriber: { uri: "${subscriberUrl}/http" }`).map((doc) => doc.toJS() as KnativeObject);
}

/**
 * A redis-server of the bench's own, on a Unix socket, with an append-only file fsynced every second: the same class
 * of durability as the SQLite journal's synchronous = NORMAL (nothing acknowledged is lost when knclaw or Redis is
 * killed; an OS crash or power loss can lose the last second). The crash tests run Redis with fsync on every write.
 */
async function startDurableRedis(dir: string): Promise<{ socket: string; server: ChildProcess }> {
  const socket = join(dir, "redis.sock");
  const server = spawn(
    "redis-server",
    [
      ...["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir],
      ...["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (/ready to accept connections/i.test(out)) resolve();
    });
    server.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return { socket, server };
}

const runtime = await startDev({ objects: objects(), port: 0, root, env: {}, schedulePings: false });
const ingress = `${runtime.url}/bench/default`;
const secured = await startDev({ objects: objects(), port: 0, root, env: {}, schedulePings: false, oidc: {} });
// The load client sends as a ServiceAccount of the broker's namespace (allow-same-namespace, Knative's default mode).
const senderToken = await secured.oidc!.issuer.mint(
  "system:serviceaccount:bench:load",
  "eventing.knative.dev/broker/bench/default",
);
const stateDir = mkdtempSync(join(tmpdir(), "knclaw-bench-broker-"));
const redis = await startDurableRedis(stateDir);
// Also on the early exit of BROKER_BENCH_ONLY runs: no redis-server outlives the bench.
process.once("exit", () => redis.server.kill("SIGKILL"));
const durable = {
  sqlite: await startDev({
    objects: durableObjects(),
    port: 0,
    root,
    env: {},
    schedulePings: false,
    brokerStore: { kind: "sqlite", path: join(stateDir, "broker.sqlite") },
  }),
  redis: await startDev({
    objects: durableObjects(),
    port: 0,
    root,
    env: {},
    schedulePings: false,
    brokerStore: { kind: "redis", url: redis.socket, consumer: "bench" },
  }),
};
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface LoadReply {
  rounds?: PhaseResult[][];
  latency?: Record<string, { p50Ms: number; p99Ms: number }>;
  error?: string;
}

try {
  const phases: Phase[] = [
    { name: "baseline", url: `${subscriberUrl}/direct`, type: "bench.direct", deliveries: 0, arrivesAt: "http" },
    { name: "http", url: ingress, type: "bench.http", deliveries: 1, arrivesAt: "http" },
    { name: "inproc", url: ingress, type: "bench.inproc", deliveries: 1, arrivesAt: "main" },
    { name: "fanout", url: ingress, type: "bench.fanout", deliveries: 10, arrivesAt: "http" },
    {
      name: "tokens_inproc",
      url: `${secured.url}/bench/default`,
      type: "bench.inproc",
      deliveries: 1,
      arrivesAt: "main",
      authorization: `Bearer ${senderToken.token}`,
    },
    {
      name: "durable_sqlite",
      url: `${durable.sqlite.url}/bench/default`,
      type: "bench.http",
      deliveries: 1,
      arrivesAt: "http",
    },
    {
      name: "durable_redis",
      url: `${durable.redis.url}/bench/default`,
      type: "bench.http",
      deliveries: 1,
      arrivesAt: "http",
    },
  ];
  // CPU of this thread (knclaw dev) per event, phase by phase over all rounds, as the load thread announces them.
  const mainCpu = new Map<string, { us: number; events: number }>();
  let phaseCpu = 0;
  const threadCpuUs = () => {
    const usage = process.threadCpuUsage();
    return usage.user + usage.system;
  };
  // BROKER_BENCH_ONLY=baseline,http (say) runs those phases only, for profiling and A/B runs; with them, the latency
  // runs named in BROKER_BENCH_PACED (none by default).
  const only = process.env.BROKER_BENCH_ONLY?.split(",");
  const onlyPaced = process.env.BROKER_BENCH_PACED?.split(",").filter((name) => only?.includes(name)) ?? [];
  load.postMessage(
    only
      ? { phases: phases.filter((p) => only.includes(p.name)), pacedPhases: onlyPaced, rounds: ROUNDS }
      : {
          phases,
          pacedPhases: ["baseline", "http", "inproc", "tokens_inproc", "durable_sqlite", "durable_redis"],
          rounds: ROUNDS,
        },
  );
  const reply = await new Promise<LoadReply>((resolve, reject) => {
    const onMessage = (message: LoadReply & { phase?: string; at?: string; events?: number }) => {
      if (message.phase && message.at === "start") phaseCpu = threadCpuUs();
      else if (message.phase && message.at === "end") {
        const total = mainCpu.get(message.phase) ?? { us: 0, events: 0 };
        total.us += threadCpuUs() - phaseCpu;
        total.events += message.events!;
        mainCpu.set(message.phase, total);
      } else {
        load.off("message", onMessage);
        resolve(message);
      }
    };
    load.on("message", onMessage);
    load.once("error", reject);
  });
  if (reply.error || !reply.rounds || !reply.latency) throw new Error(reply.error ?? "no results");
  const rounds = reply.rounds;
  const latency = reply.latency;
  const brokerCpuUs = (name: string) => {
    const total = mainCpu.get(name);
    return total ? total.us / total.events : Number.NaN;
  };
  const inRound = (round: PhaseResult[], name: string) => round.find((r) => r.name === name)!;
  /** A phase over all rounds: median events/s, and load-thread CPU per event. */
  const phase = (name: string) => ({
    eventsPerS: median(rounds.map((round) => inRound(round, name).eventsPerS)),
    loadCpuUsPerEvent: median(rounds.map((round) => inRound(round, name).loadCpuUsPerEvent)),
  });
  // Round by round: each ratio compares two measurements taken seconds apart, under the same machine conditions.
  const ratios = (name: string) =>
    rounds.map((round) => inRound(round, name).eventsPerS / inRound(round, "baseline").eventsPerS);
  if (only) {
    for (const name of only) {
      const ratio = only.includes("baseline") ? { ratio: median(ratios(name)) } : {};
      const paced = latency[name] ? { latency: latency[name] } : {};
      console.log(JSON.stringify({ name, ...phase(name), ...ratio, ...paced, brokerCpuUsPerEvent: brokerCpuUs(name) }));
    }
    process.exit(0);
  }
  const baseline = phase("baseline");
  const viaHttp = phase("http");
  const inProcess = phase("inproc");
  const withTokens = phase("tokens_inproc");
  const fanout = phase("fanout");
  const counters = runtime.counters;
  for (const c of [counters, secured.counters, durable.sqlite.counters, durable.redis.counters]) {
    if (c.dropped > 0 || c.rejected > 0 || c.retried > 0) {
      throw new Error(`the broker did not deliver cleanly: ${JSON.stringify(c)}`);
    }
  }
  const durableRow = (name: "durable_sqlite" | "durable_redis") => ({
    eventsPerS: phase(name).eventsPerS,
    ratio: median(ratios(name)),
    ratios: ratios(name),
    cpuUs: brokerCpuUs(name),
  });
  const durableSqlite = durableRow("durable_sqlite");
  const durableRedis = durableRow("durable_redis");
  const httpRatios = ratios("http");
  const ratio = median(httpRatios);
  // Machine-independent view: CPU per event of the load thread in the baseline (client + subscriber) against the
  // broker thread's CPU per event in (b) (ingress + delivery). With a core each, throughput follows the slower one.
  const baselineCpu = baseline.loadCpuUsPerEvent;
  const brokerCpu = brokerCpuUs("http");
  const cpuRatio = Math.min(1, baselineCpu / brokerCpu);
  const lat = (name: string) => `p50 ${latency[name]!.p50Ms.toFixed(2)} ms  p99 ${latency[name]!.p99Ms.toFixed(2)} ms`;
  const spread = (values: number[]) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
  console.log(
    `unpaced, ${CONCURRENCY} events in flight, ${ROUNDS} rounds of ${ROUND_MS / 1000} s per phase, medians; an event is done when its subscriber has it`,
  );
  console.log(`  baseline  client -> HTTP subscriber           ${fmt(baseline.eventsPerS).padStart(8)} events/s`);
  console.log(
    `  (b)       client -> broker -> HTTP subscriber ${fmt(viaHttp.eventsPerS).padStart(8)} events/s   ratio ${ratio.toFixed(2)} (rounds ${spread(httpRatios)})`,
  );
  console.log(
    `  (a)       client -> broker -> in-process fn   ${fmt(inProcess.eventsPerS).padStart(8)} events/s   ratio ${median(ratios("inproc")).toFixed(2)}`,
  );
  console.log(
    `  (a) with delivery tokens (OIDC on)           ${fmt(withTokens.eventsPerS).padStart(8)} events/s   ratio ${median(ratios("tokens_inproc")).toFixed(2)} (rounds ${spread(ratios("tokens_inproc"))})`,
  );
  console.log(
    `  fan-out   one event -> 10 Triggers            ${fmt(fanout.eventsPerS * 10).padStart(8)} deliveries/s (${fmt(fanout.eventsPerS)} events/s)`,
  );
  console.log(
    `  durable   (b), SQLite journal                 ${fmt(durableSqlite.eventsPerS).padStart(8)} events/s   ratio ${durableSqlite.ratio.toFixed(2)} (rounds ${spread(durableSqlite.ratios)})`,
  );
  console.log(
    `  durable   (b), Redis Streams (AOF)            ${fmt(durableRedis.eventsPerS).padStart(8)} events/s   ratio ${durableRedis.ratio.toFixed(2)} (rounds ${spread(durableRedis.ratios)})`,
  );
  console.log(`paced 1,000 events/s, ${PACED_EVENTS} events; latency from due time to arrival at the subscriber`);
  console.log(`  baseline  ${lat("baseline")}`);
  console.log(`  (b)       ${lat("http")}`);
  console.log(`  (a)       ${lat("inproc")}`);
  console.log(`  (a) tokens  ${lat("tokens_inproc")}`);
  console.log(`  durable SQLite  ${lat("durable_sqlite")}`);
  console.log(`  durable Redis   ${lat("durable_redis")}`);
  console.log(
    `CPU per event: baseline client+subscriber ${baselineCpu.toFixed(1)} us; (b) broker thread ${brokerCpu.toFixed(1)} us, load thread ${viaHttp.loadCpuUsPerEvent.toFixed(1)} us; (a) broker thread ${brokerCpuUs("inproc").toFixed(1)} us, with tokens ${brokerCpuUs("tokens_inproc").toFixed(1)} us; fan-out broker thread ${brokerCpuUs("fanout").toFixed(1)} us/event`,
  );
  console.log(
    `  -> CPU-bound ratio with a core per thread: ${cpuRatio.toFixed(2)} (the measured ratio above also reflects this machine's other load)`,
  );
  console.log(
    `  durable broker thread CPU per event: SQLite ${durableSqlite.cpuUs.toFixed(1)} us, Redis ${durableRedis.cpuUs.toFixed(1)} us`,
  );
  console.log(`broker counters: ${JSON.stringify(counters)}`);
  console.log("targets: ratio >= 0.6, >= 5,000 events/s, p99 < 10 ms at 1,000 events/s");
  console.log("durable targets: ratio >= 0.3, p99 < 15 ms at 1,000 events/s");
  console.log(
    JSON.stringify({
      bench: "broker",
      events_per_s: Math.round(viaHttp.eventsPerS),
      p50_ms: Number(latency.http!.p50Ms.toFixed(2)),
      p99_ms: Number(latency.http!.p99Ms.toFixed(2)),
      baseline_events_per_s: Math.round(baseline.eventsPerS),
      ratio: Number(ratio.toFixed(2)),
      fanout10_deliveries_per_s: Math.round(fanout.eventsPerS * 10),
      inprocess_events_per_s: Math.round(inProcess.eventsPerS),
      cpu_ratio: Number(cpuRatio.toFixed(2)),
      durable_sqlite_events_per_s: Math.round(durableSqlite.eventsPerS),
      durable_sqlite_ratio: Number(durableSqlite.ratio.toFixed(2)),
      durable_sqlite_p50_ms: Number(latency.durable_sqlite!.p50Ms.toFixed(2)),
      durable_sqlite_p99_ms: Number(latency.durable_sqlite!.p99Ms.toFixed(2)),
      durable_redis_events_per_s: Math.round(durableRedis.eventsPerS),
      durable_redis_ratio: Number(durableRedis.ratio.toFixed(2)),
      durable_redis_p50_ms: Number(latency.durable_redis!.p50Ms.toFixed(2)),
      durable_redis_p99_ms: Number(latency.durable_redis!.p99Ms.toFixed(2)),
      tokens_inprocess_events_per_s: Math.round(withTokens.eventsPerS),
      tokens_inprocess_ratio: Number(median(ratios("tokens_inproc")).toFixed(2)),
      tokens_inprocess_p99_ms: Number(latency.tokens_inproc!.p99Ms.toFixed(2)),
    }),
  );
} finally {
  await load.terminate();
  await runtime.shutdown();
  await secured.shutdown();
  await durable.sqlite.shutdown();
  await durable.redis.shutdown();
  redis.server.kill("SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
}
