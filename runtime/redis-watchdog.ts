import { Worker } from "node:worker_threads";
import type { Redis } from "ioredis";

/**
 * Telling a hung Redis (stopped, frozen, a network that drops packets without a reset) from a slow one, fast, so that
 * calls to it fail with 503 in about a tenth of a second instead of waiting out a command timeout that must be long
 * enough for the slowest honest command, or, for a client without one, forever.
 *
 * A probe in a worker thread of its own (so that a busy event loop here, which delays every answer this thread reads,
 * is not taken for a slow Redis) keeps a raw connection and sends PING every `intervalMs`. A PING unanswered for
 * `suspectAfterMs` makes Redis suspect: the watched clients refuse new commands at once (the caller answers 503) while
 * the commands already sent keep waiting; unanswered for `hungAfterMs`, the watched clients are closed and connected
 * again, which fails every command still waiting, at once, and they stay refused until Redis answers again. The first
 * answer clears both. A Redis that is down (connection refused or reset) is ioredis's own business: the probe is not
 * connected then and judges nothing, nor while it connects (a Redis loading its data answers the handshake late).
 */
export interface RedisWatchdogOptions {
  /** How often the probe pings. */
  intervalMs?: number;
  /** An unanswered PING this old makes Redis suspect: new commands are refused. */
  suspectAfterMs?: number;
  /** An unanswered PING this old means Redis is hung: the watched clients are reconnected, failing what waits. */
  hungAfterMs?: number;
  onHung?: () => void;
  onAnswered?: () => void;
}

export interface RedisWatchdog {
  stop(): Promise<void>;
}

/** The worker's code: plain JavaScript evaluated in the worker, so a function bundle needs no file beside it. */
const PROBE = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const tls = require("node:tls");
const { path, host, port, secure, username, password, intervalMs, suspectAfterMs, hungAfterMs } = workerData;
let socket;
let connected = false;
let outstanding = 0;
let waitingSince;
let state = "ok";
let pending = "";
const command = (...args) =>
  "*" + args.length + "\\r\\n" + args.map((a) => "$" + Buffer.byteLength(a) + "\\r\\n" + a + "\\r\\n").join("");
function send(text) {
  if (outstanding === 0) waitingSince = Date.now();
  outstanding += 1;
  socket.write(text);
}
function tell(next) {
  if (next === state) return;
  state = next;
  parentPort.postMessage(next);
}
function open() {
  const options = path ? { path } : { host, port };
  socket = secure ? tls.connect({ ...options, servername: host }) : net.connect(options);
  socket.setNoDelay(true);
  socket.setEncoding("utf8");
  socket.on(secure ? "secureConnect" : "connect", () => {
    connected = true;
    outstanding = 0;
    if (password) send(username ? command("AUTH", username, password) : command("AUTH", password));
  });
  socket.on("data", (chunk) => {
    pending += chunk;
    let end;
    while ((end = pending.indexOf("\\r\\n")) >= 0) {
      pending = pending.slice(end + 2);
      outstanding = Math.max(0, outstanding - 1);
      waitingSince = outstanding > 0 ? Date.now() : undefined;
      tell("ok");
    }
  });
  const closed = () => {
    connected = false;
    socket = undefined;
    outstanding = 0;
    waitingSince = undefined;
    pending = "";
  };
  socket.on("error", closed);
  socket.on("close", closed);
}
setInterval(() => {
  if (socket === undefined) return open();
  if (!connected) return;
  if (outstanding === 0) return send(command("PING"));
  const waited = Date.now() - waitingSince;
  if (waited >= hungAfterMs) tell("hung");
  else if (waited >= suspectAfterMs && state === "ok") tell("suspect");
}, intervalMs);
`;

/**
 * One probe per Redis (and timing) in a process, shared by every watch of it: knclaw dev --redis watches one Redis
 * from its memory service and from its broker journal, and one thread pinging it is enough.
 */
interface Probe {
  worker: Worker;
  state: "ok" | "suspect" | "hung";
  watchers: Set<Watcher>;
}

interface Watcher {
  clients: readonly Redis[];
  options: RedisWatchdogOptions;
}

const probes = new Map<string, Probe>();

export function watchRedis(url: string, watched: readonly Redis[], options: RedisWatchdogOptions = {}): RedisWatchdog {
  const settings = probeSettings(url, options);
  const key = JSON.stringify(settings);
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = startProbe(settings);
    probes.set(key, probe);
  }
  const shared = probe;
  const watcher: Watcher = { clients: watched, options };
  shared.watchers.add(watcher);
  const restore = watched.map((client) => refuseWhileSuspect(client, () => shared.state !== "ok"));
  return {
    async stop() {
      for (const undo of restore) undo();
      shared.watchers.delete(watcher);
      if (shared.watchers.size === 0 && probes.get(key) === shared) {
        probes.delete(key);
        await shared.worker.terminate();
      }
    },
  };
}

function probeSettings(url: string, options: RedisWatchdogOptions) {
  // ioredis takes a Unix socket's path where a URL goes (`new Redis("/run/redis.sock")`), and so does knclaw.
  const path = url.startsWith("/") ? url : undefined;
  const parsed = new URL(path ? "redis://localhost" : url);
  return {
    path,
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    secure: parsed.protocol === "rediss:",
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    intervalMs: options.intervalMs ?? 25,
    suspectAfterMs: options.suspectAfterMs ?? 75,
    hungAfterMs: options.hungAfterMs ?? 300,
  };
}

function startProbe(settings: ReturnType<typeof probeSettings>): Probe {
  const worker = new Worker(PROBE, { eval: true, workerData: settings });
  worker.unref();
  const probe: Probe = { worker, state: "ok", watchers: new Set() };
  worker.on("message", (state: Probe["state"]) => {
    const was = probe.state;
    probe.state = state;
    for (const { clients, options } of probe.watchers) {
      if (state === "hung") {
        options.onHung?.();
        // A client still connecting has nothing sent to wait on: it becomes ready when Redis answers.
        for (const client of clients) if (client.status === "ready") restart(client);
      } else if (state === "ok" && was !== "ok") options.onAnswered?.();
    }
  });
  worker.on("error", () => undefined);
  return probe;
}

type SendCommand = Redis["sendCommand"];

/** While Redis is suspect, a ready client refuses new commands at once (its own handshake still goes through). */
function refuseWhileSuspect(client: Redis, suspect: () => boolean): () => void {
  const original = client.sendCommand;
  const send: SendCommand = (command, stream) => {
    if (suspect() && client.status === "ready") {
      command.reject(new Error("Redis does not answer"));
      return command.promise;
    }
    return original.call(client, command, stream);
  };
  client.sendCommand = send;
  return () => {
    client.sendCommand = original;
  };
}

/**
 * Close (failing what waits on the connection) and connect again once closed. ioredis's disconnect only ends the
 * socket, whose close a stopped peer never completes: the socket is destroyed too, so the close (and with it the
 * rejection of every command waiting on it) happens now.
 */
function restart(client: Redis): void {
  client.once("end", () => {
    client.connect().catch(() => undefined);
  });
  client.disconnect();
  client.stream?.destroy();
}
