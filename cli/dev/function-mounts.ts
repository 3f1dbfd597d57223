import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { FetchHandler } from "../../eventing/delivery/app-transport.ts";
import type { CreateApp, FunctionApp, FunctionOptions } from "../../runtime/function.ts";
import { inFunction } from "../../runtime/telemetry.ts";

/**
 * A ksvc running under `knclaw dev`: its app mounted in this process (the default) or its main.ts in a child
 * process (`--processes`), behind the same Web-standard fetch handler either way.
 */
export interface MountedFunction {
  name: string;
  namespace: string;
  handler: FetchHandler;
  /** Where it runs for a child process; undefined when in-process. */
  childUrl?: string;
  close(): Promise<void>;
}

export interface FunctionPlan {
  name: string;
  namespace: string;
  /** Repo-relative path of the function's app.ts (the ksvc's `knclaw.dev/entry` annotation). */
  entry: string;
  env: Record<string, string>;
}

export async function mountInProcess(
  plan: FunctionPlan,
  root: string,
  options: FunctionOptions = {},
): Promise<MountedFunction> {
  const file = resolve(root, plan.entry);
  if (!existsSync(file)) throw new Error(`Service ${plan.namespace}/${plan.name}: entry ${plan.entry} does not exist`);
  const module = (await import(pathToFileURL(file).href)) as { createApp?: CreateApp };
  if (typeof module.createApp !== "function") {
    throw new Error(`Service ${plan.namespace}/${plan.name}: ${plan.entry} does not export createApp(env)`);
  }
  let app: FunctionApp;
  try {
    app = await module.createApp(Object.freeze({ ...plan.env }), options);
  } catch (error) {
    throw new Error(
      `Service ${plan.namespace}/${plan.name}: createApp failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return {
    name: plan.name,
    namespace: plan.namespace,
    // Its spans are exported as this Service's (one SDK serves every function here: runtime/telemetry.ts).
    handler: { fetch: (request) => inFunction(plan.name, () => app.fetch(request)) },
    close: async () => {
      await app.close?.();
    },
  };
}

export interface ProcessMountOptions {
  root: string;
  /** Environment the child inherits besides the ksvc's own (PATH and the like). */
  baseEnv: Record<string, string | undefined>;
  readyTimeoutMs?: number;
  onOutput?: (name: string, line: string) => void;
}

/** Run the function's main.ts as its own Node process on a free loopback port, as a ksvc container would run. */
export async function mountAsProcess(plan: FunctionPlan, options: ProcessMountOptions): Promise<MountedFunction> {
  const main = join(dirname(resolve(options.root, plan.entry)), "main.ts");
  if (!existsSync(main)) throw new Error(`Service ${plan.namespace}/${plan.name}: no main.ts beside ${plan.entry}`);
  return mountChild(plan, {
    file: process.execPath,
    args: [main],
    cwd: options.root,
    env: { ...pickBaseEnv(options.baseEnv), ...plan.env, HOST: "127.0.0.1" },
    onOutput: options.onOutput,
    ready: (child, port) => waitReady(child, `http://127.0.0.1:${port}/readyz`, options.readyTimeoutMs ?? 20_000, plan),
  });
}

/**
 * Run a Service from the command `knclaw dev --run NAME=COMMAND` gives (service-map.ts), by /bin/sh in the current
 * directory, as its container would run: on a free loopback port in `$PORT`, with the Service's env and nothing else
 * of knclaw dev's. Ready once the port takes a connection: Knative's default readiness probe is a TCP check of the
 * container port, and an arbitrary service has no /readyz.
 */
export async function mountCommand(
  plan: Omit<FunctionPlan, "entry">,
  command: string,
  options: Omit<ProcessMountOptions, "root"> & { cwd: string },
): Promise<MountedFunction> {
  return mountChild(plan, {
    file: "/bin/sh",
    args: ["-c", command],
    cwd: options.cwd,
    env: { ...pickBaseEnv(options.baseEnv), ...plan.env },
    onOutput: options.onOutput,
    ready: (child, port) => waitListening(child, port, options.readyTimeoutMs ?? 30_000, plan),
  });
}

interface ChildSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  onOutput: ((name: string, line: string) => void) | undefined;
  ready(child: ChildProcess, port: number): Promise<void>;
}

/** A child process on a free loopback port (`$PORT`), its output forwarded, mounted once `ready` says so. */
async function mountChild(plan: Pick<FunctionPlan, "name" | "namespace">, spec: ChildSpec): Promise<MountedFunction> {
  const port = await freePort();
  const child = spawn(spec.file, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  forwardOutput(child, plan.name, spec.onOutput);
  await spec.ready(child, port);
  const base = `http://127.0.0.1:${port}`;
  return {
    name: plan.name,
    namespace: plan.namespace,
    childUrl: base,
    handler: proxyTo(base),
    close: () => stopChild(child),
  };
}

function forwardOutput(
  child: ChildProcess,
  name: string,
  onOutput: ((name: string, line: string) => void) | undefined,
) {
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) onOutput?.(name, line);
  };
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
}

/** A fetch handler that hands each request to the child on its port, path and query kept. */
function proxyTo(base: string): FetchHandler {
  return {
    fetch: (request) => {
      const url = new URL(request.url);
      return fetch(`${base}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
        redirect: "manual",
        duplex: "half",
      } as RequestInit);
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once("error", () => resolveAccepts(false));
  });
}

function pickBaseEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "NODE_OPTIONS"]) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Poll the child's readiness probe, as the kubelet would, until it answers 200 or the child exits. */
function waitReady(
  child: ChildProcess,
  url: string,
  timeoutMs: number,
  plan: Pick<FunctionPlan, "name" | "namespace">,
) {
  return waitFor(child, timeoutMs, plan, "ready", async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false; // not listening yet
    }
  });
}

/** Poll until the child's port takes a TCP connection (Knative's default readiness probe). */
function waitListening(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  plan: Pick<FunctionPlan, "name" | "namespace">,
) {
  return waitFor(child, timeoutMs, plan, "listening on $PORT", () => accepts(port));
}

async function waitFor(
  child: ChildProcess,
  timeoutMs: number,
  plan: Pick<FunctionPlan, "name" | "namespace">,
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  const started = Date.now();
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    if (exited !== undefined)
      throw new Error(`Service ${plan.namespace}/${plan.name}: process exited (${exited}) before it was ${what}`);
    if (await check()) return;
    if (Date.now() - started > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`Service ${plan.namespace}/${plan.name}: not ${what} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolveStop();
    });
    child.kill("SIGTERM");
  });
}
