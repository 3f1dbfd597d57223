/**
 * `npm run bench -- coldstart`: for every function bundle, spawn it and time process start -> first 200 from its
 * readiness endpoint, and its RSS once ready. Baseline in the same run: a bare Node HTTP server. A function with
 * another configuration worth knowing (the memory service on Redis) gets a row per configuration; a skill that loads
 * code on its first call (FIRST_CALLS) gets a row for its RSS after that call, outside the targets, which are about
 * a start.
 * Last line: {"bench":"coldstart","worst_ready_ms":N,"baseline_ready_ms":N,"worst_rss_mb":N,...}
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { bundleFunction } from "../../cli/bundle/bundle.ts";
import { findFunctionEntries } from "../../cli/bundle/function-entries.ts";
import { repoRoot } from "../../cli/repo-root.ts";
import { readEvent } from "../../eventing/catalog/make.ts";
import { TOOL_COMPLETED } from "../../eventing/catalog/types.ts";
import { decodeMessageIfAny, encodeEvent } from "../../eventing/cloudevent/http-codec.ts";
import { parsePrivateKey } from "../../runtime/keys.ts";
import { signedToolRequest } from "../skills/support/call.ts";
import { freePort } from "../support/free-port.ts";
import { BENCH_INSTANCE, benchFunctionEnvs } from "./support/function-env.ts";

const RUNS = Number(process.env.COLDSTART_RUNS ?? 5);
const root = repoRoot();
const work = await mkdtemp(join(tmpdir(), "knclaw-coldstart-"));

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** A static import of another file of the bundle (esbuild writes `from"./chunks/x.mjs"`); `import("...")` is not one. */
const STATIC_IMPORT = /(?:from|import)\s*"(\.{1,2}\/[^"]+\.mjs)"/g;

/**
 * KiB of code a bundle parses at start (its entry and the chunks it imports statically) and KiB it loads only on
 * demand (the other chunks), so that moving code into a chunk shows as what it is.
 */
async function bundleKib(entryFile: string): Promise<{ start: number; onDemand: number }> {
  const atStart = new Set<string>();
  const visit = async (file: string) => {
    if (atStart.has(file)) return;
    atStart.add(file);
    for (const match of (await readFile(file, "utf8")).matchAll(STATIC_IMPORT)) {
      await visit(resolve(dirname(file), match[1]!));
    }
  };
  await visit(entryFile);
  const chunksDir = join(dirname(entryFile), "chunks");
  const chunks = (await readdir(chunksDir).catch(() => [] as string[]))
    .filter((name) => name.endsWith(".mjs"))
    .map((name) => join(chunksDir, name));
  let start = 0;
  let onDemand = 0;
  for (const file of [entryFile, ...chunks]) {
    const bytes = (await stat(file)).size;
    if (atStart.has(file)) start += bytes;
    else onDemand += bytes;
  }
  return { start: start / 1024, onDemand: onDemand / 1024 };
}

interface FirstCall {
  skill: string;
  tool: string;
  args: Record<string, unknown>;
}

/** Skills that load a library on their first call instead of at start (skills/kubernetes/client-node.ts). */
const FIRST_CALLS: Record<string, FirstCall> = {
  "skill-kubernetes": { skill: "kubernetes", tool: "list_pods", args: { namespace: "default", limit: 10 } },
};

interface Sample {
  readyMs: number;
  rssMb: number;
  afterCall?: { callMs: number; rssMb: number };
}

let sequence = 0;

/** One tool call as the bench's agent makes it (capability token signed with its key); fails unless it succeeds. */
async function callTool(port: number, call: FirstCall, signingKey: string): Promise<void> {
  sequence += 1;
  const event = signedToolRequest(
    {
      runId: "coldstart",
      callId: `call-${sequence}`,
      instance: BENCH_INSTANCE,
      skill: call.skill,
      tool: call.tool,
      arguments: call.args,
    },
    parsePrivateKey(signingKey),
  );
  const { headers, body } = encodeEvent(event, "binary");
  const response = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  const reply = decodeMessageIfAny(response.headers, new Uint8Array(await response.arrayBuffer()));
  const outcome = reply ? readEvent(reply, TOOL_COMPLETED).outcome : undefined;
  if (!outcome?.ok) throw new Error(`${call.skill}.${call.tool} failed: ${response.status} ${JSON.stringify(outcome)}`);
}

async function startOnce(file: string, env: Record<string, string>, firstCall?: FirstCall): Promise<Sample> {
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
    const sample: Sample = { readyMs, rssMb: await rssMb(child.pid!) };
    if (firstCall) {
      const calling = performance.now();
      await callTool(port, firstCall, signingKey);
      sample.afterCall = { callMs: performance.now() - calling, rssMb: await rssMb(child.pid!) };
    }
    return sample;
  } finally {
    child.kill("SIGKILL");
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
  }
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(file: string, env: Record<string, string>, firstCall?: FirstCall) {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await startOnce(file, env, firstCall));
  const calls = samples.flatMap((s) => (s.afterCall ? [s.afterCall] : []));
  return {
    readyMs: median(samples.map((s) => s.readyMs)),
    rssMb: Math.max(...samples.map((s) => s.rssMb)),
    afterCall:
      calls.length > 0
        ? { callMs: median(calls.map((c) => c.callMs)), rssMb: Math.max(...calls.map((c) => c.rssMb)) }
        : undefined,
  };
}

const envs = await benchFunctionEnvs();
const signingKey = envs.byFolder.get("functions/agent")?.KNCLAW_SIGNING_KEY ?? "";
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
  let rows = 0;
  const afterFirstCall: Record<string, { rss_mb: number; call_ms: number }> = {};
  const entries = findFunctionEntries(root);
  for (const entry of entries) {
    const bundle = await bundleFunction(root, entry, join(work, "functions"));
    const kib = await bundleKib(bundle.file);
    const size = `bundle ${kib.start.toFixed(0)} KiB${kib.onDemand > 0 ? ` (+${kib.onDemand.toFixed(0)} on demand)` : ""}`;
    const folder = dirname(entry.main);
    const env = envs.byFolder.get(folder);
    if (!env) throw new Error(`no rendered ksvc runs ${entry.main}: add it to test/bench/fixtures/all-functions.yaml`);
    for (const run of [{ label: entry.name, env }, ...(envs.variants.get(folder) ?? [])]) {
      const firstCall = FIRST_CALLS[entry.name];
      const result = await measure(bundle.file, run.env, firstCall);
      rows += 1;
      worstReady = Math.max(worstReady, result.readyMs);
      worstRss = Math.max(worstRss, result.rssMb);
      console.log(
        `${run.label.padEnd(28)} ready ${result.readyMs.toFixed(1).padStart(7)} ms  rss ${result.rssMb.toFixed(1).padStart(6)} MB  ${size.padEnd(34)}  ratio ${(result.readyMs / baseline.readyMs).toFixed(2)}x`,
      );
      if (firstCall && result.afterCall) {
        afterFirstCall[run.label] = {
          rss_mb: Number(result.afterCall.rssMb.toFixed(1)),
          call_ms: Number(result.afterCall.callMs.toFixed(1)),
        };
        console.log(
          `${`  after 1st ${firstCall.tool}`.padEnd(28)} call  ${result.afterCall.callMs.toFixed(1).padStart(7)} ms  rss ${result.afterCall.rssMb.toFixed(1).padStart(6)} MB  (not a start: outside the targets)`,
        );
      }
    }
  }
  console.log(
    `${entries.length} functions in ${rows} configurations, median of ${RUNS} starts each; targets: worst < 300 ms, < 80 MB RSS once ready`,
  );
  console.log(
    JSON.stringify({
      bench: "coldstart",
      worst_ready_ms: Number(worstReady.toFixed(1)),
      baseline_ready_ms: Number(baseline.readyMs.toFixed(1)),
      worst_rss_mb: Number(worstRss.toFixed(1)),
      functions: entries.length,
      configurations: rows,
      ratio: Number((worstReady / baseline.readyMs).toFixed(2)),
      after_first_call: afterFirstCall,
    }),
  );
} finally {
  await envs.close();
  await rm(work, { recursive: true, force: true });
}
