/**
 * No run the gateway accepted is stranded (functions/gateway/redrive.ts): every accepted run has a re-drive timer in
 * the memory service; when it fires without an outcome, the run's run.requested goes out again under the same id
 * (the agent answers as the run stands: agent/loop tests); a retry with the same Idempotency-Key does the same once
 * the run waited a re-drive delay; GET tells the run's status and outcome from the agent's own document.
 *
 * The memory service here has no broker to fire timers into: the test reads the armed timer from it and delivers
 * timer.fired to the gateway itself, as the memory service would at the due time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { derivedEventId, readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { REDRIVE_TIMER } from "../../../functions/gateway/redrive.ts";
import { auth, completed, fireTimer, type GatewayHarness, startGateway } from "./support/harness.ts";

let h: GatewayHarness;
let clock = Date.parse("2026-12-07T10:00:00Z");

beforeAll(async () => {
  h = await startGateway({ KNCLAW_GATEWAY_REDRIVE_AFTER_SECONDS: "30" }, { now: () => clock });
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  h.broker.events.length = 0;
  h.broker.failures.length = 0;
});

async function start(key: string, body: unknown = { task: "check the disks" }) {
  const response = await fetch(`${h.url}/api/v1/instances/ops/runs`, {
    method: "POST",
    headers: { ...auth(), "idempotency-key": key },
    body: JSON.stringify(body),
  });
  return { status: response.status, runId: ((await response.json()) as { runId: string }).runId };
}

const timerOf = (runId: string) =>
  h.operator.getTimer({ instance: "ops", target: "gateway", kind: REDRIVE_TIMER, id: runId });

/** Deliver the run's timer as the memory service fires it. */
const fire = (runId: string) => fireTimer(h, { instance: "ops", target: "gateway", kind: REDRIVE_TIMER, id: runId });

const requests = () => h.broker.ofType(T.RUN_REQUESTED);

/** The agent's run document, as the agent would have written it. */
async function agentRun(runId: string, status: "running" | "waiting" | "completed" | "failed", state = {}) {
  await h.operator.createRun("ops", { id: runId, status, state });
}

const getRun = async (runId: string) =>
  (await (await fetch(`${h.url}/api/v1/runs/${runId}`, { headers: auth() })).json()) as Record<string, unknown>;

describe("re-drives", () => {
  it("arms a timer a re-drive delay out when the run is accepted, and the outcome disarms it", async () => {
    const { runId } = await start("arm-1");
    expect(await timerOf(runId)).toMatchObject({ dueAt: clock + 30_000, data: { attempt: 0 } });
    await h.deliver(completed(runId, "ops", "fine"));
    expect(await timerOf(runId)).toBeUndefined();
  });

  it("sends the request again, same id, when the agent never got it; then looks again twice as late", async () => {
    const { runId } = await start("lost-1", { task: "count the pods", input: { namespace: "prod" } });
    const first = requests()[0]!;
    expect(await fire(runId)).toBe(200);
    const again = requests()[1]!;
    expect(again.attributes.id).toBe(first.attributes.id);
    expect(readEvent(again, T.RUN_REQUESTED)).toEqual(readEvent(first, T.RUN_REQUESTED));
    expect(await timerOf(runId)).toMatchObject({ dueAt: clock + 60_000, data: { attempt: 1 } });
  });

  it("sends the request again when the agent finished the run but its outcome never arrived", async () => {
    const { runId } = await start("finished-1");
    await agentRun(runId, "completed", {
      outcome: { status: "completed", output: "42 pods" },
      usage: { inputTokens: 3, outputTokens: 4 },
      costUsd: 0.5,
    });
    // Meanwhile GET tells the truth from the agent's document.
    expect(await getRun(runId)).toMatchObject({ status: "completed", output: "42 pods", costUsd: 0.5 });
    expect(await fire(runId)).toBe(200);
    expect(requests()).toHaveLength(2);
  });

  it("re-drives a run the agent is working on too (its lost deadline or first step comes back), and looks again later", async () => {
    const { runId } = await start("busy-1");
    await agentRun(runId, "waiting");
    expect(await getRun(runId)).toMatchObject({ status: "waiting" });
    expect(await fire(runId)).toBe(200);
    expect(requests()).toHaveLength(2);
    expect(await timerOf(runId)).toMatchObject({ data: { attempt: 1 } });
  });

  it("does nothing for a run that has its outcome, or whose request the broker never accepted (the caller got 503)", async () => {
    const done = await start("done-1");
    h.broker.failures.push(503, 503, 503, 503);
    expect((await start("refused-1")).status).toBe(503);
    // The run id a request gets is derived from the token's name and its key.
    const refused = derivedEventId("gateway", "admin", "refused-1");
    expect(await timerOf(refused)).toBeDefined();
    await h.deliver(completed(done.runId, "ops", "fine"));
    await h.operator.armTimer(
      { instance: "ops", target: "gateway", kind: REDRIVE_TIMER, id: done.runId },
      { dueAt: clock, data: { attempt: 0 } },
    );
    expect(await fire(done.runId)).toBe(200);
    expect(await fire(refused)).toBe(200);
    expect(requests()).toHaveLength(1);
    expect(await timerOf(refused)).toMatchObject({ data: { attempt: 0 } });
  });

  it("a retry with the same Idempotency-Key re-drives a run without its outcome once it waited a re-drive delay", async () => {
    const { runId } = await start("retry-1");
    await start("retry-1");
    expect(requests()).toHaveLength(1);
    clock += 31_000;
    expect((await start("retry-1")).runId).toBe(runId);
    expect(requests()).toHaveLength(2);
    await h.deliver(completed(runId, "ops", "fine"));
    expect(await start("retry-1")).toMatchObject({ status: 202, runId });
    expect(requests()).toHaveLength(2);
  });

  it("keeps a large request whole across its stored parts", async () => {
    const input = { text: "é🙂 ".repeat(60_000), rows: Array.from({ length: 500 }, (_, i) => ({ i })) };
    const { runId } = await start("large-1", { task: "summarise", input });
    expect(await fire(runId)).toBe(200);
    expect(readEvent(requests()[1]!, T.RUN_REQUESTED).input).toEqual(input);
  });
});

describe("GET /api/v1/runs/{id} while the gateway has no outcome", () => {
  it("tells queued, running, waiting and failed from the agent's document", async () => {
    const queued = await start("status-queued");
    expect(await getRun(queued.runId)).toMatchObject({ status: "queued" });
    const running = await start("status-running");
    await agentRun(running.runId, "running");
    expect(await getRun(running.runId)).toMatchObject({ status: "running" });
    const failedRun = await start("status-failed");
    await agentRun(failedRun.runId, "failed", {
      outcome: { status: "failed", reason: "max_turns", output: "", message: "I stopped." },
    });
    expect(await getRun(failedRun.runId)).toMatchObject({
      status: "failed",
      reason: "max_turns",
      message: "I stopped.",
    });
  });
});
