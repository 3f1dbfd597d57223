/**
 * `npm run bench -- crash`: what a `kill -9` mid-flight costs. 200 runs (CRASH_RUNS) are accepted through the gateway
 * of a real `knclaw dev` process on --redis (a redis-server of the bench's own: appendonly yes, appendfsync always; with
 * CRASH_STORE=embedded, the embedded memory store and the SQLite journal in the state directory instead), the crash
 * suite's platform (test/crash/support/): the model and a counting skill live in this process and outlive the
 * kill. Once all are accepted and half their tool calls have answered (the others held), `knclaw dev` gets SIGKILL
 * and is started again on the same state. Then every run is awaited (`Prefer: wait`, the way a client waits).
 *
 * - stuck: accepted runs not finished two minutes after the restart (must be 0);
 * - duplicated: runs with a tool call executed twice, a second message or outcome in their log, or a run nobody asked
 *   for (must be 0);
 * - recovery_s: from starting the new process to the last run finished (must stay under 30).
 * Exit 1 when any of the three is off. Baseline in the same run, printed before: the same runs without a kill, from
 * the first submission to the last outcome, so recovery can be read against how long the work itself takes.
 * Last line: {"bench":"crash","accepted":N,"completed":N,"failed":N,"stuck":0,"duplicated":0,"recovery_s":N}
 */
import { CrashPlatform } from "../crash/support/platform.ts";
import { OwnRedis } from "../crash/support/redis-server.ts";

const RUNS = Number(process.env.CRASH_RUNS ?? 200);
const EMBEDDED = process.env.CRASH_STORE === "embedded";
const WAIT_SECONDS = 120;
const round = (n: number) => Math.round(n * 100) / 100;

/** Submits every run; the keys the gateway accepted (202). */
async function submitAll(p: CrashPlatform, keys: readonly string[]): Promise<string[]> {
  const answers = await Promise.all(keys.map((key) => p.submit(key)));
  return keys.filter((_, i) => answers[i]!.status === 202);
}

/** Awaits every run's outcome; what ended how, when the last one did, and what ran more than once. */
async function outcomes(p: CrashPlatform, keys: readonly string[]) {
  let lastAt = 0;
  const answers = await Promise.all(
    keys.map(async (key) => {
      const answer = await p.outcome(key, WAIT_SECONDS, (retried) =>
        console.error(`${key}: ${retried.status} ${JSON.stringify(retried.body)}, asking again`),
      );
      lastAt = Math.max(lastAt, performance.now());
      return answer;
    }),
  );
  let completed = 0;
  let failed = 0;
  let stuck = 0;
  let duplicated = 0;
  const runIds = new Set<string>();
  for (const answer of answers) {
    if (answer.status !== 200) stuck += 1;
    else if (answer.body.status === "completed") completed += 1;
    else failed += 1;
    if (answer.body.runId !== undefined) runIds.add(answer.body.runId);
  }
  for (const runId of runIds) {
    const types = await p.log(runId);
    const calls = [...p.skill.executions].filter(([call]) => call.startsWith(`${runId}/`));
    const once =
      types.filter((type) => type === "message").length <= 1 &&
      types.filter((type) => type === "completed" || type === "failed").length <= 1 &&
      calls.length <= 1 &&
      calls.every(([, count]) => count === 1);
    if (!once) {
      duplicated += 1;
      console.error(`duplicated: run ${runId} logged ${types.join(", ")}; tool calls ${JSON.stringify(calls)}`);
    }
  }
  for (const call of p.skill.executions.keys()) {
    if (runIds.has(call.split("/")[0]!)) continue;
    duplicated += 1;
    console.error(`duplicated: tool call ${call} of a run nobody asked for`);
  }
  return { completed, failed, stuck, duplicated, lastAt };
}

const keysFor = (name: string) => Array.from({ length: RUNS }, (_, i) => `${name}-${i}`);

/** Each phase on a Redis of its own (none when embedded): nothing one leaves behind (its broker stream) reaches the other. */
async function freshRedis(): Promise<OwnRedis | undefined> {
  if (EMBEDDED) return undefined;
  const redis = new OwnRedis();
  await redis.start();
  return redis;
}

// Baseline: the same runs, no kill.
const baselineRedis = await freshRedis();
const baseline = await CrashPlatform.start(baselineRedis ? { redis: baselineRedis } : {});
await baseline.startDev();
const baselineStarted = performance.now();
await submitAll(baseline, keysFor("baseline"));
const baselineEnd = await outcomes(baseline, keysFor("baseline"));
const baselineSeconds = (baselineEnd.lastAt - baselineStarted) / 1000;
await baseline.close();
await baselineRedis?.stop();
console.log(
  `baseline: ${RUNS} runs in ${round(baselineSeconds)} s without a kill (stuck ${baselineEnd.stuck}, duplicated ${baselineEnd.duplicated})`,
);

const redis = await freshRedis();
const p = await CrashPlatform.start(redis ? { redis } : {});
await p.startDev();
const keys = keysFor("crash");
// Every tool call is held until all runs are accepted and have asked; then half are answered and the process is
// killed, so it dies with runs at every step: answered and finishing, mid-tool, their answers on the way.
p.skill.hold();
const accepted = await submitAll(p, keys);
await p.skill.heldAtLeast(accepted.length);
const half = Math.floor(accepted.length / 2);
p.skill.releaseSome(half);
await p.skill.answeredAtLeast(half);
await p.kill();
p.skill.release();
console.log(`killed with ${half} of ${accepted.length} tool calls answered`);
const restarted = performance.now();
await p.startDev();
const listening = (performance.now() - restarted) / 1000;
const end = await outcomes(p, accepted);
const recovery = (end.lastAt - restarted) / 1000;
console.log(`restart: listening after ${round(listening)} s, last run finished after ${round(recovery)} s`);
await p.close();
await redis?.stop();

const result = {
  bench: "crash",
  accepted: accepted.length,
  completed: end.completed,
  failed: end.failed,
  stuck: end.stuck,
  duplicated: end.duplicated,
  recovery_s: round(recovery),
};
console.log(JSON.stringify(result));
if (result.stuck !== 0 || result.duplicated !== 0 || result.recovery_s >= 30 || result.accepted !== RUNS) {
  process.exitCode = 1;
}
