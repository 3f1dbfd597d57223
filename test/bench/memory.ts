/**
 * `npm run bench -- memory`: the agent's hot path on the memory service, "append one message + read the last 50" of a
 * 10,000-message session, through the HTTP API (the typed client against the service running as its own process
 * on the local Redis) and, as the baseline in the same run, the same operations straight to Redis with ioredis
 * (RPUSH + LRANGE in one pipeline).
 *
 * Throughput is measured unpaced (closed loop, CONCURRENCY requests in flight, the same for both); latency at a paced
 * 500 ops/s (open loop: each operation's latency counts from its scheduled start, so a stall delays the operations
 * queued behind it too). The HTTP operation is one call: an append that answers the window.
 * Last line: {"bench":"memory","ops_per_s":N,"p99_ms":N,"direct_ops_per_s":N,"ratio":N}
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { MemoryClient } from "../../clients/memory/client.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import { openRedisStores } from "../../functions/memory/redis/stores.ts";
import { freePort } from "../support/free-port.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SESSION_SIZE = 10_000;
const WINDOW = 50;
const CONCURRENCY = Number(process.env.MEMORY_BENCH_CONCURRENCY ?? 4);
const UNPACED_MS = Number(process.env.MEMORY_BENCH_SECONDS ?? 5) * 1000;
const PACED_RATE = 500;
const PACED_OPS = Number(process.env.MEMORY_BENCH_PACED_OPS ?? 5000);
const INSTANCE = "bench";
const SESSION = "main";

const prefix = `knclaw-bench:${randomBytes(6).toString("hex")}:`;
const secret = randomBytes(24).toString("base64url");
const serviceEntry = fileURLToPath(new URL("../../functions/memory/main.ts", import.meta.url));
const directKey = `${prefix}{direct}:list`;

async function startService(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [serviceEntry], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      KNCLAW_REDIS_URL: REDIS_URL,
      KNCLAW_MEMORY_TOKEN_SECRET: secret,
      KNCLAW_REDIS_KEY_PREFIX: prefix,
      KNCLAW_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("the memory service exited during start");
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, child };
    if (Date.now() > deadline) throw new Error("the memory service did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function message(n: number) {
  return {
    id: `m${n}`,
    role: "user" as const,
    content: `message number ${n}: the quick brown fox jumps over the lazy dog`,
  };
}

/** CPU seconds a process used so far (user + system), from /proc: robust to other load on the machine. */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

let counter = 0;
const next = () => ++counter;

/** CPU microseconds per operation of the last unpaced run: this process, and the service process. */
const cpu = { client: 0, service: 0 };
let servicePid = 0;

/** Closed loop: `concurrency` workers run `op` back to back for `durationMs`; answers completed ops per second. */
async function unpaced(op: () => Promise<void>, durationMs: number, concurrency: number): Promise<number> {
  let done = 0;
  const ownBefore = process.cpuUsage();
  const serviceBefore = processCpuSeconds(servicePid);
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op();
        done += 1;
      }
    }),
  );
  const elapsed = performance.now() - start;
  const own = process.cpuUsage(ownBefore);
  cpu.client = (own.user + own.system) / done;
  cpu.service = ((processCpuSeconds(servicePid) - serviceBefore) * 1e6) / done;
  return done / (elapsed / 1000);
}

/** Open loop at `rate` ops/s: latency of each op from its scheduled start; answers sorted latencies in ms. */
async function paced(op: () => Promise<void>, rate: number, count: number): Promise<number[]> {
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const inflight: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const scheduled = start + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inflight.push(op().then(() => void latencies.push(performance.now() - scheduled)));
  }
  await Promise.all(inflight);
  return latencies.sort((a, b) => a - b);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

const redis = new Redis(REDIS_URL);
const { url, child } = await startService();
servicePid = child.pid!;
try {
  const client = new MemoryClient({
    baseUrl: url,
    token: mintMemoryToken(secret, { kind: "instance", instance: INSTANCE }),
    retries: 0,
  });
  for (let from = 1; from <= SESSION_SIZE; from += 500) {
    await client.appendMessages(INSTANCE, SESSION, {
      messages: Array.from({ length: 500 }, (_, i) => message(from + i)),
    });
  }
  const seed = Array.from({ length: SESSION_SIZE }, (_, i) => JSON.stringify(message(i + 1)));
  for (let i = 0; i < seed.length; i += 1000) await redis.rpush(directKey, ...seed.slice(i, i + 1000));
  counter = SESSION_SIZE;

  const viaApi = async () => {
    const answer = await client.appendMessages(INSTANCE, SESSION, {
      messages: [message(next())],
      window: { last: WINDOW },
    });
    if (answer.window?.messages.length !== WINDOW) throw new Error("short window");
  };
  const viaApiTwoCalls = async () => {
    await client.appendMessages(INSTANCE, SESSION, { messages: [message(next())] });
    const window = await client.readSession(INSTANCE, SESSION, { last: WINDOW });
    if (window.messages.length !== WINDOW) throw new Error("short window");
  };
  // For the breakdown: the service's own Redis work (idempotent append script + window, one transaction), no HTTP.
  const stores = openRedisStores({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 1000 });
  await stores.waitUntilReady(5000);
  const viaBackend = async () => {
    const id = `m${next()}`;
    const json = JSON.stringify({ ...message(0), id, tokens: 16, at: Date.now() });
    const answer = await stores.sessions.append(INSTANCE, SESSION, {
      messages: [{ id, tokens: 16, json }],
      now: Date.now(),
      resetBefore: 0,
      window: { last: WINDOW },
    });
    if (answer.window?.count !== WINDOW) throw new Error("short window");
    JSON.parse(`[${answer.window.messagesJson}]`);
  };
  const direct = async () => {
    const replies = await redis
      .pipeline()
      .rpush(directKey, JSON.stringify(message(next())))
      .lrange(directKey, -WINDOW, -1)
      .exec();
    const window = replies?.[1]?.[1] as string[] | undefined;
    if (window?.length !== WINDOW) throw new Error("short window");
    // The same parsing work the service's caller gets done for it.
    for (const item of window) JSON.parse(item);
  };
  /** Keep both sessions at 10,000 messages between phases. */
  const resize = async () => {
    await client.trimSession(INSTANCE, SESSION, { keepLast: SESSION_SIZE });
    await redis.ltrim(directKey, -SESSION_SIZE, -1);
  };

  // Warm-up (JIT, connection pools, script cache).
  await unpaced(viaApi, 1000, CONCURRENCY);
  await unpaced(direct, 1000, CONCURRENCY);
  await resize();

  const directOps = await unpaced(direct, UNPACED_MS, CONCURRENCY);
  const directCpu = cpu.client;
  await resize();
  const backendOps = await unpaced(viaBackend, UNPACED_MS, CONCURRENCY);
  const backendCpu = cpu.client;
  await resize();
  const apiOps = await unpaced(viaApi, UNPACED_MS, CONCURRENCY);
  const apiCpu = { ...cpu };
  await resize();
  const twoCallOps = await unpaced(viaApiTwoCalls, UNPACED_MS, CONCURRENCY);
  await resize();
  const latencies = await paced(viaApi, PACED_RATE, PACED_OPS);
  await resize();
  const directLatencies = await paced(direct, PACED_RATE, PACED_OPS);
  await stores.close();

  const ratio = apiOps / directOps;
  const p99 = percentile(latencies, 0.99);
  console.log(
    `session: ${SESSION_SIZE} messages, window ${WINDOW}, unpaced with ${CONCURRENCY} in flight for ${UNPACED_MS / 1000} s`,
  );
  const us = (value: number) => `${value.toFixed(0)} us`;
  console.log(`direct ioredis (RPUSH + LRANGE pipeline): ${directOps.toFixed(0)} ops/s; CPU/op ${us(directCpu)}`);
  console.log(
    `service's Redis work without HTTP:         ${backendOps.toFixed(0)} ops/s  (ratio ${(backendOps / directOps).toFixed(2)}); CPU/op ${us(backendCpu)}`,
  );
  console.log(
    `HTTP API, append answering the window:    ${apiOps.toFixed(0)} ops/s  (ratio ${ratio.toFixed(2)}); CPU/op client ${us(apiCpu.client)} + service ${us(apiCpu.service)}`,
  );
  console.log(
    `HTTP API, append then read (two calls):   ${twoCallOps.toFixed(0)} ops/s  (ratio ${(twoCallOps / directOps).toFixed(2)})`,
  );
  console.log(
    `paced ${PACED_RATE} ops/s x ${PACED_OPS}: HTTP p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms; direct p99 ${percentile(directLatencies, 0.99).toFixed(2)} ms`,
  );
  console.log("targets: ratio >= 0.3, p99 < 5 ms at 500 ops/s");
  console.log(
    JSON.stringify({
      bench: "memory",
      ops_per_s: Math.round(apiOps),
      p99_ms: Number(p99.toFixed(2)),
      direct_ops_per_s: Math.round(directOps),
      ratio: Number(ratio.toFixed(2)),
    }),
  );
} finally {
  child.kill("SIGTERM");
  await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
  let cursor = "0";
  do {
    const [nextCursor, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = nextCursor;
    for (const key of keys) await redis.del(key);
  } while (cursor !== "0");
  redis.disconnect();
}
