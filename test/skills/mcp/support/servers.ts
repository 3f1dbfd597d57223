import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import type { Logger } from "../../../../runtime/log.ts";
import type { McpServerSettingsInput } from "../../../../skills/mcp/settings.ts";
import { freePort } from "../../../support/free-port.ts";

const require = createRequire(import.meta.url);

/** The bin of a published MCP server package, run with this Node. */
function serverBin(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = (JSON.parse(readFileSync(manifest, "utf8")) as { bin: Record<string, string> }).bin;
  return join(dirname(manifest), bins[bin]!);
}

export const EVERYTHING = serverBin("@modelcontextprotocol/server-everything", "mcp-server-everything");
export const FILESYSTEM = serverBin("@modelcontextprotocol/server-filesystem", "mcp-server-filesystem");

/** `@modelcontextprotocol/server-everything` over stdio, as a skill's settings. */
export function everythingStdio(extra: Partial<McpServerSettingsInput> = {}): McpServerSettingsInput {
  return {
    transport: "stdio",
    command: process.execPath,
    args: [EVERYTHING, "stdio"],
    ...extra,
  } as McpServerSettingsInput;
}

/** `@modelcontextprotocol/server-filesystem` over stdio, confined to `dir`. */
export function filesystemStdio(dir: string, extra: Partial<McpServerSettingsInput> = {}): McpServerSettingsInput {
  return { transport: "stdio", command: process.execPath, args: [FILESYSTEM, dir], ...extra } as McpServerSettingsInput;
}

export interface HttpEverything {
  url: string;
  close(): Promise<void>;
}

/** `@modelcontextprotocol/server-everything` in its Streamable HTTP mode on a free loopback port. */
export async function startEverythingHttp(): Promise<HttpEverything> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes(`listening on port ${port}`)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server-everything exited (${code}): ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A logger whose lines a test can wait for (the MCP connection logs progress and closes). */
export function watchedLogger(): { log: Logger; next(message: string): Promise<Record<string, unknown>> } {
  const waiters: Array<{ message: string; resolve: (line: Record<string, unknown>) => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString("utf8")) as Record<string, unknown>;
      for (const waiter of [...waiters]) {
        if (line.msg === waiter.message) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      done();
    },
  });
  return {
    log: pino({ level: "debug" }, stream),
    next: (message) => new Promise((resolve) => waiters.push({ message, resolve })),
  };
}

/** Pids of this process's children running `script` (the stdio servers the skill started). */
export function childrenRunning(script: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(script)) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

export interface RecordingProxy {
  url: string;
  /** The headers of every request that reached the proxy. */
  seen: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

/** A loopback proxy in front of `target` that records request headers (what credentials the skill sent). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const seen: RecordingProxy["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ ...req.headers });
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
