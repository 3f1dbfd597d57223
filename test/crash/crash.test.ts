/**
 * The crash suite: runs accepted through the gateway of a real `knclaw dev` process, which is then killed at a chosen
 * point and started again on the same state. Every accepted run must end, once: one outcome, one message, one
 * execution of its one tool call (the counting skill and the model live in this process, so they outlive the kills).
 *
 * Kill points, each reached deterministically (no timing):
 * - mid-delivery: the skill holds tool calls until four are in flight, then `kill -9`;
 * - between a function's commit and its emit: KNCLAW_CRASH_POINT=agent.after-commit@N (runtime/crash-point.ts), the
 *   process kills itself right after the N-th committed step, before that step's events leave;
 * - mid-ingress: KNCLAW_CRASH_POINT=gateway.after-emit@N, the process dies with run.requested in the broker and the
 *   caller unanswered, so the caller retries with the same Idempotency-Key after the restart;
 * - SIGTERM under load: a graceful stop with tool calls in flight (exit 0), then a start.
 * With `--redis` (a redis-server of the suite's own: appendonly yes, appendfsync always) and with the embedded memory
 * store and the SQLite broker journal in the state directory (`npm start`'s default). Callers behave as an operator's
 * would: a request that got no answer is sent again with the same Idempotency-Key, and the outcome is awaited with
 * `Prefer: wait` (asked again while the answer is 409, 429 or 503).
 */
import { afterEach, describe, expect, it } from "vitest";
import { waitForOutput } from "../support/cli-process.ts";
import { CrashPlatform, type RunAnswer, taskOf } from "./support/platform.ts";
import { OwnRedis } from "./support/redis-server.ts";

const RUNS = 12;
const keysOf = (scenario: string) => Array.from({ length: RUNS }, (_, i) => `${scenario}-${i}`);

/** Submits every key at once; a request cut off by the kill has no answer (undefined). */
async function submitAll(p: CrashPlatform, keys: readonly string[]): Promise<Map<string, RunAnswer | undefined>> {
  const answers = await Promise.all(keys.map((key) => p.submit(key).catch(() => undefined)));
  return new Map(keys.map((key, i) => [key, answers[i]]));
}

/**
 * After the restart: every key is asked again (an unanswered caller's retry; for the others, a wait for the outcome),
 * and each run must have ended once.
 */
async function expectEveryRunEndedOnce(
  p: CrashPlatform,
  keys: readonly string[],
  accepted: readonly string[],
  options: { callsMayTimeOut?: boolean } = {},
) {
  const outcomes = await Promise.all(keys.map((key) => p.outcome(key, 120)));
  const runIds = new Set<string>();
  for (const [i, outcome] of outcomes.entries()) {
    expect({ key: keys[i], status: outcome.status, run: outcome.body.status }).toEqual({
      key: keys[i],
      status: 200,
      run: "completed",
    });
    expect(outcome.body.output).toBe(`done ${taskOf(keys[i]!)}`);
    runIds.add(outcome.body.runId!);
  }
  expect(runIds.size).toBe(keys.length);
  for (const runId of runIds) {
    expect((await p.log(runId)).sort()).toEqual(["completed", "message"]);
    const calls = [...p.skill.executions].filter(([call]) => call.startsWith(`${runId}/`));
    // A call whose request never reached the skill before its deadline times out instead: never run twice either way.
    expect(calls).toEqual(options.callsMayTimeOut && calls.length === 0 ? [] : [[`${runId}/1-0`, 1]]);
  }
  // No run executed that nobody asked for.
  expect([...p.skill.executions.keys()].every((call) => runIds.has(call.split("/")[0]!))).toBe(true);
  expect(accepted.length).toBeGreaterThan(0);
}

const accepted = (answers: Map<string, RunAnswer | undefined>) =>
  [...answers].filter(([, answer]) => answer?.status === 202).map(([key]) => key);

for (const store of ["redis", "embedded"] as const) {
  describe(`kill -9 of knclaw dev (${store === "redis" ? "--redis" : "embedded memory store, SQLite journal"})`, () => {
    let redis: OwnRedis | undefined;
    let p: CrashPlatform;
    // Each test on a Redis of its own: nothing the last one left (its broker stream) reaches the next.
    const platform = async () => {
      if (store === "redis") {
        redis = new OwnRedis();
        await redis.start();
      }
      p = await CrashPlatform.start({ redriveAfterSeconds: 2, ...(redis ? { redis } : {}) });
      return p;
    };
    afterEach(async () => {
      await p.close();
      await redis?.stop();
    });

    it("mid-delivery: tool calls in flight", { timeout: 180_000 }, async () => {
      const p = await platform();
      await p.startDev();
      p.skill.hold();
      const keys = keysOf("delivery");
      const answers = await submitAll(p, keys);
      await p.skill.heldAtLeast(4);
      await p.kill();
      p.skill.release();
      await p.startDev();
      await expectEveryRunEndedOnce(p, keys, accepted(answers));
    });

    it("between a step's commit and its emit", { timeout: 180_000 }, async () => {
      const p = await platform();
      const dev = await p.startDev("agent.after-commit@7");
      const keys = keysOf("commit");
      const answers = await submitAll(p, keys);
      expect((await dev.ended).signal).toBe("SIGKILL");
      await p.startDev();
      await expectEveryRunEndedOnce(p, keys, accepted(answers));
    });

    it("mid-ingress: run.requested in the broker, the caller unanswered", { timeout: 180_000 }, async () => {
      const p = await platform();
      const dev = await p.startDev("gateway.after-emit@6");
      const keys = keysOf("ingress");
      // Four accepted one by one, then the rest at once: the sixth emit is the last thing the process does.
      const answers = new Map<string, RunAnswer | undefined>();
      for (const key of keys.slice(0, 4)) answers.set(key, await p.submit(key));
      for (const [key, answer] of await submitAll(p, keys.slice(4))) answers.set(key, answer);
      expect((await dev.ended).signal).toBe("SIGKILL");
      expect([...answers.values()].some((answer) => answer === undefined)).toBe(true);
      await p.startDev();
      await expectEveryRunEndedOnce(p, keys, accepted(answers));
    });

    it("SIGTERM under load: a graceful stop with tool calls in flight, then a start", {
      timeout: 180_000,
    }, async () => {
      const p = await platform();
      const dev = await p.startDev();
      p.skill.hold();
      const keys = keysOf("sigterm");
      const answers = await submitAll(p, keys);
      await p.skill.heldAtLeast(4);
      dev.child.kill("SIGTERM");
      p.skill.release();
      expect(await dev.ended).toEqual({ code: 0, signal: null });
      await p.startDev();
      await expectEveryRunEndedOnce(p, keys, accepted(answers));
    });
  });
}

describe("kill -9 of Redis under load (--redis)", () => {
  let redis: OwnRedis;
  let p: CrashPlatform;
  afterEach(async () => {
    await p.close();
    await redis.stop();
  });

  /** Runs in flight (four tool calls held), then Redis killed; the tool calls answer into the outage. */
  async function killRedisUnderLoad(
    scenario: string,
    options: { toolGraceSeconds?: number; journalOnDisk?: boolean } = {},
  ) {
    redis = new OwnRedis();
    await redis.start();
    p = await CrashPlatform.start({ redis, redriveAfterSeconds: 2, ...options });
    const dev = await p.startDev();
    p.skill.hold();
    const keys = keysOf(scenario);
    const answers = await submitAll(p, keys);
    await p.skill.heldAtLeast(4);
    await redis.kill();
    p.skill.release();
    // Work goes on failing while Redis is away: tool answers cannot be stored, steps cannot commit.
    const refused = await p.submit(`${scenario}-while-down`).catch(() => undefined);
    expect(refused?.status).not.toBe(202);
    return { dev, keys, answers };
  }

  it("a short outage: every accepted run ends once after Redis is back, without a restart", {
    timeout: 240_000,
  }, async () => {
    const { dev, keys, answers } = await killRedisUnderLoad("redis");
    await redis.start();
    await expectEveryRunEndedOnce(p, keys, accepted(answers));
    expect(dev.child.exitCode).toBeNull();
  });

  it("an outage past the broker's retries: what it gave up on is re-driven or times out, every run ends once", {
    timeout: 240_000,
  }, async () => {
    // The journal on disk keeps the broker delivering through the outage (as a Kafka broker would), so it gives up.
    const { dev, keys, answers } = await killRedisUnderLoad("outage", { toolGraceSeconds: 1, journalOnDisk: true });
    // Redis stays away until the broker has given up on a delivery (its dead-letter sink is down too).
    await waitForOutput(dev.child, /"msg":"delivery failed, event (sent to the dead-letter sink|dropped)"/, "stderr");
    await redis.start();
    await expectEveryRunEndedOnce(p, keys, accepted(answers), { callsMayTimeOut: true });
    expect(dev.child.exitCode).toBeNull();
  });
});
