/**
 * The load side of `npm run bench -- broker`, run in a worker thread so the load client and the HTTP subscriber do
 * not share an event loop with the system under test (knclaw dev on the main thread), as on a cluster where the
 * broker is its own process. The baseline runs in exactly this arrangement too.
 *
 * Events are numbered; `e<n>` arrives either at the HTTP subscriber here or at the in-process function on the main
 * thread, which records arrival times and flags in shared memory (Atomics) for this thread to await.
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";

export interface LoadInit {
  flags: SharedArrayBuffer;
  times: SharedArrayBuffer;
  concurrency: number;
  unpacedMs: number;
  pacedRate: number;
  pacedEvents: number;
}

export interface Phase {
  name: string;
  url: string;
  type: string;
  /** Deliveries per event: 0 = the POST itself is the whole job (baseline). */
  deliveries: number;
  /** Where deliveries arrive: the HTTP subscriber here, or the in-process function on the main thread. */
  arrivesAt: "http" | "main";
  /** Sent with every event: the sender's token, for a broker that authenticates senders. */
  authorization?: string;
}

export interface PhaseResult {
  name: string;
  eventsPerS: number;
  /** CPU time of this (load) thread per event during the unpaced run, in microseconds. */
  loadCpuUsPerEvent: number;
}

const init = workerData as LoadInit;
const flags = new Int32Array(init.flags);
const times = new Float64Array(init.times);
const now = () => performance.timeOrigin + performance.now();

/** HTTP arrivals: remaining delivery count and resolver per event number. */
const waiting = new Map<number, { remaining: number; done: () => void }>();
const httpArrival = new Map<number, number>();
const subscriber = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const id = req.headers["ce-id"];
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-length": 0 });
    res.end();
    if (typeof id !== "string") return;
    const n = Number(id.slice(1));
    const waiter = waiting.get(n);
    if (!waiter) return;
    if (--waiter.remaining === 0) {
      httpArrival.set(n, now());
      waiting.delete(n);
      waiter.done();
    }
  });
});
await new Promise<void>((resolve) => subscriber.listen(0, "127.0.0.1", () => resolve()));

const agent = new Agent({ keepAlive: true, maxSockets: init.concurrency });
const body = Buffer.from(JSON.stringify({ instance: "bench", text: "hello, broker" }));
let sequence = 0;

function post(url: URL, id: string, type: string, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/bench",
          "ce-type": type,
          "content-type": "application/json",
          "content-length": body.byteLength,
          ...(authorization === undefined ? {} : { authorization }),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function arrivalAtMain(n: number): Promise<number> {
  if (Atomics.load(flags, n) === 0) {
    const wait = Atomics.waitAsync(flags, n, 0);
    if (wait.async) await wait.value;
  }
  return times[n]!;
}

/** One event end to end; resolves with its arrival time (absolute ms). */
async function sendOne(phase: Phase, url: URL): Promise<number> {
  const n = ++sequence;
  if (n >= flags.length) throw new Error("benchmark ran out of event slots");
  const id = `e${n}`;
  if (phase.deliveries === 0) {
    const status = await post(url, id, phase.type);
    if (status !== 200) throw new Error(`${phase.name}: subscriber answered ${status}`);
    return now();
  }
  const arrived =
    phase.arrivesAt === "main"
      ? arrivalAtMain(n)
      : new Promise<number>((resolve) =>
          waiting.set(n, { remaining: phase.deliveries, done: () => resolve(httpArrival.get(n)!) }),
        );
  const status = await post(url, id, phase.type, phase.authorization);
  if (status !== 202) throw new Error(`${phase.name}: ingress answered ${status}`);
  const at = await arrived;
  httpArrival.delete(n);
  return at;
}

function threadCpuUs(): number {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
}

async function throughput(phase: Phase, ms: number): Promise<number> {
  const url = new URL(phase.url);
  let completed = 0;
  const start = performance.now();
  const until = start + ms;
  await Promise.all(
    Array.from({ length: init.concurrency }, async () => {
      while (performance.now() < until) {
        await sendOne(phase, url);
        completed++;
      }
    }),
  );
  return completed / ((performance.now() - start) / 1000);
}

/** Open loop: event i is due at start + i/rate; its latency runs from when it was due to when it arrived. */
async function paced(phase: Phase): Promise<{ p50: number; p99: number }> {
  const url = new URL(phase.url);
  const latencies: number[] = [];
  // BROKER_BENCH_TRACE=1: print when the slowest events were due, to tell one long stall from many short ones.
  const traced: Array<[number, number]> | undefined = process.env.BROKER_BENCH_TRACE ? [] : undefined;
  const start = now() + 20;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < init.pacedEvents; i++) {
    const due = start + (i * 1000) / init.pacedRate;
    const wait = due - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      sendOne(phase, url).then((at) => {
        latencies.push(at - due);
        if (traced) traced.push([due - start, at - due]);
      }),
    );
  }
  await Promise.all(pending);
  if (traced) {
    traced.sort((a, b) => b[1] - a[1]);
    const worst = traced.slice(0, 40).map(([at, latency]) => `${Math.round(at)}:${latency.toFixed(1)}`);
    console.error(`${phase.name}: slowest events (ms into the run:latency ms) ${worst.join(" ")}`);
  }
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: pick(0.5), p99: pick(0.99) };
}

/**
 * Unpaced runs go in rounds: every phase once per round, in turn, so each phase meets the same share of whatever
 * else the machine is doing (on a shared VM the speed of two busy cores drifts by a factor of two over seconds).
 * A phase's throughput is its median over the rounds; a ratio is taken round by round, between neighbours in time.
 */
parentPort!.on("message", async (message: { phases: Phase[]; pacedPhases: string[]; rounds: number }) => {
  try {
    for (const phase of message.phases) await throughput(phase, 500);
    // Latency at a steady 1,000 events/s first, before the unpaced rounds leave the heaps full of garbage whose
    // collection would otherwise land in whichever paced phase came next.
    const latency: Record<string, { p50Ms: number; p99Ms: number }> = {};
    for (const name of message.pacedPhases) {
      const { p50, p99 } = await paced(message.phases.find((p) => p.name === name)!);
      latency[name] = { p50Ms: p50, p99Ms: p99 };
    }
    const rounds: PhaseResult[][] = [];
    for (let round = 0; round < message.rounds; round++) {
      const results: PhaseResult[] = [];
      for (const phase of message.phases) {
        // The main thread measures its own CPU between these two messages.
        parentPort!.postMessage({ phase: phase.name, at: "start" });
        const cpuBefore = threadCpuUs();
        const sequenceBefore = sequence;
        const eventsPerS = await throughput(phase, init.unpacedMs);
        const events = sequence - sequenceBefore;
        const loadCpuUsPerEvent = (threadCpuUs() - cpuBefore) / events;
        parentPort!.postMessage({ phase: phase.name, at: "end", events });
        results.push({ name: phase.name, eventsPerS, loadCpuUsPerEvent });
      }
      rounds.push(results);
    }
    parentPort!.postMessage({ rounds, latency });
  } catch (error) {
    parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) });
  } finally {
    agent.destroy();
    subscriber.closeAllConnections();
    subscriber.close();
  }
});
parentPort!.postMessage({ subscriberUrl: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}` });
