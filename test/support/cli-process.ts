import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `knclaw` run as users run it: the checkout's CLI in a real process. */
const ROOT = new URL("../..", import.meta.url).pathname;
const CLI = join(ROOT, "cli/knclaw.ts");

/** This process's environment minus the variables `drop` names, plus `extra`. */
export function inheritedEnv(drop: (name: string) => boolean, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !drop(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Unless the caller names one, each process gets its own fresh state directory (`knclaw dev` keeps its broker journal
 * there), removed when it exits: tests never share or inherit durable state.
 */
export function spawnKnclaw(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): ChildProcess {
  const stateDir = env.KNCLAW_STATE_DIR === undefined ? mkdtempSync(join(tmpdir(), "knclaw-state-")) : undefined;
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: stateDir ? { ...env, KNCLAW_STATE_DIR: stateDir } : env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (stateDir) child.once("exit", () => rmSync(stateDir, { recursive: true, force: true }));
  return child;
}

/** Everything the process writes, as it arrives. */
export function collectOutput(child: ChildProcess): { stdout: string; stderr: string } {
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  return out;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Runs the command to its end. */
export async function runKnclaw(args: string[], env: NodeJS.ProcessEnv, cwd?: string) {
  const child = spawnKnclaw(args, env, cwd);
  const out = collectOutput(child);
  const code = await exited(child);
  return { code, ...out };
}

/** Resolves with the first match of `pattern` in what the process has written; rejects if it exits first. */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  stream: "stdout" | "stderr" = "stdout",
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) {
        child[stream]!.off("data", onData);
        resolve(match);
      }
    };
    child[stream]!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited (${code}) before ${pattern}: ${text}`)));
  });
}
