import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * A redis-server of the test's own, on a free port chosen by the OS, with its data in a temporary directory.
 * `kill9()` and `start()` again simulate a crash and a restart on the same port and data.
 */
export interface OwnRedis {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  kill9(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function ownRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), "knclaw-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const process = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--loglevel", "notice", ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = process;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Ready to accept connections/.test(output)) {
          process.stdout?.off("data", onData);
          resolve();
        }
      };
      process.stdout?.on("data", onData);
      process.once("exit", (code) =>
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)),
      );
    });
    process.stdout?.resume();
    process.stderr?.resume();
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    start,
    async kill9() {
      if (!child) return;
      child.kill("SIGKILL");
      await exited(child);
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
    async stop() {
      if (child) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
        await exited(child);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
