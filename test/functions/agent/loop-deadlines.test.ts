import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryClient } from "../../../clients/memory/client.ts";
import type { Timer } from "../../../clients/memory/contract/timers.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import {
  agentEnv,
  type MemoryFixture,
  type SkillCounters,
  startMemory,
  TestBus,
  testSkills,
} from "./support/harness.ts";

/**
 * A run's deadlines (approval expiry, an unanswered call, the wall clock) as one due-time timer in the memory service
 * (ARCHITECTURE.md, "Deadlines"): the agent keeps it at the run's next deadline, and the memory service's timer.fired
 * is what expires, times out or stops the run. The memory service fires only when the test says, on a clock the test
 * moves; the agent runs on its own test clock.
 */
let memory: MemoryFixture;
let model: FakeOpenAI;
let bus: TestBus;
let counters: SkillCounters;
let clock = Date.now();
let timers: MemoryClient;

beforeAll(async () => {
  memory = await startMemory();
  model = await startFakeOpenAI();
  timers = new MemoryClient({ baseUrl: memory.url, token: memory.tokenFor("ops") });
});
afterAll(async () => {
  await model.close();
  await memory.close();
});
beforeEach(() => {
  counters = { calls: {} };
  bus = new TestBus();
  clock = Date.now();
});
afterEach(async () => {
  await bus.close();
});

type Message = { role: string; content?: string | null };
const toolResults = (body: Record<string, unknown>) =>
  (body.messages as Message[])
    .filter((m) => m.role === "tool")
    .map((m) => JSON.parse(m.content as string) as Record<string, unknown>);
const call = (id: string, name: string, args: unknown) => ({ id, name, arguments: JSON.stringify(args) });

let sequence = 0;
function message(text: string): CloudEvent {
  sequence += 1;
  return makeEvent(T.MESSAGE_RECEIVED, {
    source: "/knclaw/channels/slack",
    data: {
      instance: "ops",
      channel: "slack",
      messageId: `d-${sequence}-${Date.now()}`,
      conversation: "C1",
      sender: { channel: "slack", id: "U1", displayName: "U1" },
      text,
      replyTo: { channel: "slack", conversation: "C1" },
      receivedAt: new Date().toISOString(),
    },
  });
}

const timerOf = (runId: string): Promise<Timer | undefined> =>
  timers.getTimer({ instance: "ops", target: "agent", kind: "deadline", id: runId });

/** Let the memory service's clock reach the run's timer and fire it: the timer.fired events for that run. */
async function fire(runId: string): Promise<CloudEvent[]> {
  const timer = await timerOf(runId);
  expect(timer).toBeDefined();
  memory.clock.offsetMs = Math.max(0, timer!.dueAt - Date.now());
  try {
    return (await memory.fireDueTimers()).filter((event) => bus.data(event, T.TIMER_FIRED).id === runId);
  } finally {
    memory.clock.offsetMs = 0;
  }
}

/** A model that deletes a pod (a call that needs approval) or reads pods, then says what became of it. */
function script(tool: "kubernetes__delete_pod" | "kubernetes__get_pods"): void {
  model.setResponder((request) => {
    const results = toolResults(request.body);
    if (results.length === 0)
      return { kind: "message", toolCalls: [call("c1", tool, { namespace: "prod", name: "web-1" })] };
    const error = results[0]!.error as { class: string } | undefined;
    return { kind: "message", text: error ? `failed: ${error.class}` : "done" };
  });
}

async function startAgent(policy: Record<string, unknown>, options: Parameters<TestBus["startAgent"]>[1] = {}) {
  await bus.addSkills(testSkills(counters));
  await bus.startAgent(agentEnv({ memory, modelUrl: model.url, skills: testSkills(counters), policy }), {
    now: () => clock,
    ...options,
  });
}

const APPROVALS = { approvals: { approvers: ["slack:U9"], timeoutSeconds: 300 }, budgets: { wallClockSeconds: 3600 } };

describe("a run's deadline timer", () => {
  it("sits at the approval's expiry, moves to the call's deadline once approved, and goes when the run ends", async () => {
    script("kubernetes__delete_pod");
    await startAgent(APPROVALS);
    await bus.deliver(message("delete web-1"));
    await bus.pump();
    const requested = bus.data(bus.ofType(T.APPROVAL_REQUESTED)[0]!, T.APPROVAL_REQUESTED);
    expect(await timerOf(requested.runId)).toMatchObject({ dueAt: Date.parse(requested.expiresAt) + 1 });

    const decided = makeEvent(T.APPROVAL_DECIDED, {
      source: "/knclaw/channels/slack",
      data: {
        approvalId: requested.approvalId,
        runId: requested.runId,
        callId: requested.callId,
        instance: "ops",
        digest: requested.digest,
        decision: "approve",
        decidedBy: { channel: "slack", id: "U9" },
      },
    });
    expect(await bus.deliver(decided)).toBe(200);
    const toolCall = bus.data(bus.queue.find((e) => e.attributes.type === T.TOOL_REQUESTED)!, T.TOOL_REQUESTED);
    expect(await timerOf(requested.runId)).toMatchObject({ dueAt: Date.parse(toolCall.deadline!) + 1 });

    await bus.pump();
    expect(counters.calls.delete_pod).toBe(1);
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
    expect(await timerOf(requested.runId)).toBeUndefined();
  });

  it("expires the approval when it fires, once, however often the event is delivered", async () => {
    script("kubernetes__delete_pod");
    await startAgent(APPROVALS);
    await bus.deliver(message("delete web-1"));
    await bus.pump();
    const { runId, expiresAt } = bus.data(bus.ofType(T.APPROVAL_REQUESTED)[0]!, T.APPROVAL_REQUESTED);
    // The agent's clock is just past the expiry, as the memory service's is when it fires.
    clock = Date.parse(expiresAt) + 1;
    const fired = await fire(runId);
    expect(fired).toHaveLength(1);
    expect(await bus.deliver(fired[0]!)).toBe(200);
    expect(await bus.deliver(fired[0]!)).toBe(200);
    await bus.pump();
    const resolved = bus.ofType(T.APPROVAL_RESOLVED).map((e) => bus.data(e, T.APPROVAL_RESOLVED).outcome);
    expect(resolved).toEqual(["expired"]);
    expect(counters.calls.delete_pod).toBeUndefined();
    expect(bus.data(bus.ofType(T.MESSAGE_SEND).at(-1)!, T.MESSAGE_SEND).text).toBe("failed: PermissionDenied");
    expect(await timerOf(runId)).toBeUndefined();
  });

  it("times out a call no skill answers when it fires, and the run goes on", async () => {
    script("kubernetes__get_pods");
    await startAgent({ budgets: { wallClockSeconds: 3600 } });
    // The skill never gets the call (a lost delivery).
    bus.filter = (event) => event.attributes.type !== T.TOOL_REQUESTED;
    await bus.deliver(message("list pods"));
    const toolCall = bus.data(bus.queue.find((e) => e.attributes.type === T.TOOL_REQUESTED)!, T.TOOL_REQUESTED);
    await bus.pump();
    clock = Date.parse(toolCall.deadline!) + 1;
    const fired = await fire(toolCall.runId);
    expect(await bus.deliver(fired[0]!)).toBe(200);
    await bus.pump();
    expect(counters.calls.get_pods).toBeUndefined();
    expect(bus.data(bus.ofType(T.MESSAGE_SEND).at(-1)!, T.MESSAGE_SEND).text).toBe("failed: Timeout");
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
    expect(await timerOf(toolCall.runId)).toBeUndefined();
  });

  it("stops a waiting run on its wall clock when that comes first", async () => {
    script("kubernetes__get_pods");
    await startAgent({ budgets: { wallClockSeconds: 10 } });
    bus.filter = (event) => event.attributes.type !== T.TOOL_REQUESTED;
    const started = clock;
    await bus.deliver(message("list pods"));
    const { runId } = bus.data(bus.queue.find((e) => e.attributes.type === T.TOOL_REQUESTED)!, T.TOOL_REQUESTED);
    await bus.pump();
    expect(await timerOf(runId)).toMatchObject({ dueAt: started + 10_000 });
    clock = started + 10_000;
    expect(await bus.deliver((await fire(runId))[0]!)).toBe(200);
    await bus.pump();
    expect(bus.ofType(T.RUN_FAILED).map((e) => bus.data(e, T.RUN_FAILED).reason)).toEqual([
      "budget_exceeded:wall_clock",
    ]);
    expect(await timerOf(runId)).toBeUndefined();
  });

  it("changes nothing when it fires before any deadline, and is armed again at the run's next one", async () => {
    script("kubernetes__delete_pod");
    await startAgent(APPROVALS);
    await bus.deliver(message("delete web-1"));
    await bus.pump();
    const { runId, expiresAt } = bus.data(bus.ofType(T.APPROVAL_REQUESTED)[0]!, T.APPROVAL_REQUESTED);
    // A stale arm moved the timer early (an older state's deadline): it fires now.
    await timers.armTimer({ instance: "ops", target: "agent", kind: "deadline", id: runId }, { dueAt: clock });
    const fired = await fire(runId);
    expect(await bus.deliver(fired[0]!)).toBe(200);
    await bus.pump();
    expect(bus.ofType(T.APPROVAL_RESOLVED)).toEqual([]);
    expect(await timerOf(runId)).toMatchObject({ dueAt: Date.parse(expiresAt) + 1 });
  });

  it("counts the timer's due time only up to the run's own next deadline", async () => {
    script("kubernetes__delete_pod");
    await startAgent({ ...APPROVALS, budgets: { wallClockSeconds: 600 } });
    const started = clock;
    await bus.deliver(message("delete web-1"));
    await bus.pump();
    const { runId } = bus.data(bus.ofType(T.APPROVAL_REQUESTED)[0]!, T.APPROVAL_REQUESTED);
    // A timer event claiming a due time far past every deadline expires the approval (the earliest), not the run.
    const forged = makeEvent(T.TIMER_FIRED, {
      source: "/knclaw/memory",
      data: {
        instance: "ops",
        target: "agent",
        kind: "deadline",
        id: runId,
        dueAt: new Date(started + 86_400_000).toISOString(),
      },
    });
    expect(await bus.deliver(forged)).toBe(200);
    await bus.pump();
    expect(bus.ofType(T.APPROVAL_RESOLVED).map((e) => bus.data(e, T.APPROVAL_RESOLVED).outcome)).toEqual(["expired"]);
    expect(bus.ofType(T.RUN_FAILED)).toEqual([]);
    expect(bus.ofType(T.RUN_COMPLETED)).toHaveLength(1);
  });

  it("is armed by the redelivery when the step that should have armed it died after its commit", async () => {
    script("kubernetes__delete_pod");
    let crashes = 1;
    await startAgent(APPROVALS, {
      faults: {
        afterCommit: () => {
          if (crashes-- > 0) throw new Error("injected crash after commit");
        },
      },
    });
    const event = message("delete web-1");
    expect(await bus.deliver(event)).toBe(500);
    const run = (await timers.listRuns("ops", { status: "waiting" })).runs.find(
      (r) => r.state.userText === "delete web-1",
    );
    expect(await timerOf(run!.id)).toBeUndefined();
    expect(await bus.deliver(event)).toBe(200);
    await bus.pump();
    const { expiresAt } = bus.data(bus.ofType(T.APPROVAL_REQUESTED)[0]!, T.APPROVAL_REQUESTED);
    expect(await timerOf(run!.id)).toMatchObject({ dueAt: Date.parse(expiresAt) + 1 });
  });

  it("refuses timer events that are not this agent's own deadlines; one for a run it does not know changes nothing", async () => {
    await startAgent({});
    const timer = (data: Record<string, unknown>) =>
      makeEvent(T.TIMER_FIRED, {
        source: "/knclaw/memory",
        data: {
          instance: "ops",
          target: "agent",
          kind: "deadline",
          id: "r-1",
          dueAt: new Date().toISOString(),
          ...data,
        } as never,
      });
    expect(await bus.deliver(timer({ target: "gateway" }))).toBe(400);
    expect(await bus.deliver(timer({ kind: "redrive" }))).toBe(400);
    expect(await bus.deliver(timer({ instance: "other" }))).toBe(400);
    expect(await bus.deliver(timer({ id: "no-such-run" }))).toBe(200);
    expect(bus.queue).toEqual([]);
  });
});
