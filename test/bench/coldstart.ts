/**
 * `npm run bench -- coldstart`: for every function bundle, spawn it and time process start -> first 200 from its
 * readiness endpoint, and its RSS once ready. Baseline in the same run: a bare Node HTTP server.
 * Last line: {"bench":"coldstart","worst_ready_ms":N,"baseline_ready_ms":N,"worst_rss_mb":N}
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundleFunction } from "../../cli/build/bundle.ts";
import { findFunctionEntries } from "../../cli/build/function-entries.ts";
import { repoRoot } from "../../cli/repo-root.ts";
import { freePort } from "../support/free-port.ts";
import { benchFunctionEnvs } from "./_function-env.ts";

const RUNS = Number(process.env.COLDSTART_RUNS ?? 5);
const root = repoRoot();
const work = await mkdtemp(join(tmpdir(), "knclaw-coldstart-"));

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Sample {
  readyMs: number;
  rssMb: number;
}

async function startOnce(file: string, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH ?? "", ...env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`${file} exited with ${code} before ready:\n${stderr.slice(-2000)}`)),
    ),
  );
  exited.catch(() => undefined);
  const deadline = started + 30_000;
  try {
    for (;;) {
      if (performance.now() > deadline) throw new Error(`${file} not ready within 30 s:\n${stderr.slice(-2000)}`);
      const ok = await Promise.race([
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        ),
        exited,
      ]);
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const readyMs = performance.now() - started;
    return { readyMs, rssMb: await rssMb(child.pid!) };
  } finally {
    child.kill("SIGKILL");
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
  }
}

async function measure(file: string, env: Record<string, string>) {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await startOnce(file, env));
  const ready = samples.map((s) => s.readyMs).sort((a, b) => a - b);
  return { readyMs: ready[Math.floor(ready.length / 2)]!, rssMb: Math.max(...samples.map((s) => s.rssMb)) };
}

const envs = await benchFunctionEnvs();
try {
  const baselineFile = join(work, "baseline.mjs");
  await writeFile(
    baselineFile,
    "import { createServer } from 'node:http';\ncreateServer((req, res) => { res.statusCode = 200; res.end('ok'); }).listen(Number(process.env.PORT));\n",
  );
  const baseline = await measure(baselineFile, {});
  console.log(
    `${"baseline (bare node:http)".padEnd(28)} ready ${baseline.readyMs.toFixed(1).padStart(7)} ms  rss ${baseline.rssMb.toFixed(1).padStart(6)} MB`,
  );

  let worstReady = 0;
  let worstRss = 0;
  const entries = findFunctionEntries(root);
  for (const entry of entries) {
    const bundle = await bundleFunction(root, entry, join(work, "functions"));
    const env = envs.byFolder.get(dirname(entry.main));
    if (!env) throw new Error(`no rendered ksvc runs ${entry.main}: add it to test/bench/fixtures/all-functions.yaml`);
    const result = await measure(bundle.file, env);
    worstReady = Math.max(worstReady, result.readyMs);
    worstRss = Math.max(worstRss, result.rssMb);
    console.log(
      `${entry.name.padEnd(28)} ready ${result.readyMs.toFixed(1).padStart(7)} ms  rss ${result.rssMb.toFixed(1).padStart(6)} MB  bundle ${(bundle.bytes / 1024).toFixed(0)} KiB  ratio ${(result.readyMs / baseline.readyMs).toFixed(2)}x`,
    );
  }
  console.log(`${entries.length} functions, median of ${RUNS} starts each; targets: worst < 300 ms, < 80 MB RSS`);
  console.log(
    JSON.stringify({
      bench: "coldstart",
      worst_ready_ms: Number(worstReady.toFixed(1)),
      baseline_ready_ms: Number(baseline.readyMs.toFixed(1)),
      worst_rss_mb: Number(worstRss.toFixed(1)),
      functions: entries.length,
      ratio: Number((worstReady / baseline.readyMs).toFixed(2)),
    }),
  );
} finally {
  await envs.close();
  await rm(work, { recursive: true, force: true });
}
