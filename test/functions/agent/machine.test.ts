import { describe, expect, it } from "vitest";
import type { TaskContract, ToolCompleted } from "../../../eventing/catalog/index.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { EventRefused } from "../../../eventing/trust/event-trust.ts";
import type { ModelResponse, ModelToolCall } from "../../../functions/agent/providers/model.ts";
import {
  advance,
  type MachineEnv,
  type MachineInput,
  newRun,
  type Transition,
} from "../../../functions/agent/run/machine.ts";
import type { RunState, StoredEvent } from "../../../functions/agent/run/state.ts";
import { argumentsDigest } from "../../../skills/runtime/canonical-json.ts";
import { verifyCapability } from "../../../skills/runtime/capability.ts";
import { staticTrustedKeys } from "../../../skills/runtime/trusted-keys.ts";
import { layers, machineEnv, publicKey } from "./fixtures.ts";

const NOW = 1_800_000_000_000;
const route = { channel: "slack" as const, conversation: "C1" };
const alice = { channel: "slack" as const, id: "U1", displayName: "alice" };
const bob = { channel: "slack" as const, id: "U2", displayName: "bob" };

function start(
  contract: TaskContract = {},
  options: { kind?: RunState["kind"]; replyTo?: boolean; run?: TaskContract } = {},
) {
  const env = machineEnv(contract, {}, options.run);
  const state = newRun({
    runId: "run-1",
    instance: "ops",
    kind: options.kind ?? "message",
    model: "openai/gpt-test",
    now: NOW,
    userText: "check the pods",
    layers: layers(contract, options.run),
    contractVersion: env.contract.version,
    ...(options.replyTo === false ? {} : { replyTo: route }),
    requester: alice,
  });
  const begun = advance(state, { kind: "begin" }, env);
  expect(begun.callModel).toBe(true);
  return { env, state: begun.state };
}

const calls = (...list: Array<[string, unknown]>): ModelToolCall[] =>
  list.map(([name, args], index) => ({
    id: `call_${index}`,
    name,
    arguments: typeof args === "string" ? args : JSON.stringify(args),
  }));

const response = (
  toolCalls: ModelToolCall[],
  text = "",
  usage = { inputTokens: 10, outputTokens: 5 },
): ModelResponse => ({
  text,
  toolCalls,
  finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
  usage,
});

/** The arguments these tests call each tool with: a skill's answer carries their digest. */
const CALLED_WITH: Record<string, unknown> = { get_pods: { namespace: "a" }, fetch: { url: "https://x" } };

const completed = (
  callId: string,
  tool: string,
  skill: string,
  outcome: ToolCompleted["outcome"],
  attempt = 1,
  digest = argumentsDigest(CALLED_WITH[tool]),
): MachineInput => ({
  kind: "tool_completed",
  data: { runId: "run-1", callId, instance: "ops", skill, tool, attempt, digest, outcome, durationMs: 1 },
});

const types = (t: Transition) => t.events.map((event) => event.attributes.type);
const data = (event: StoredEvent) => JSON.parse(event.data!) as Record<string, unknown>;
const at = (env: MachineEnv, ms: number): MachineEnv => ({ ...env, now: NOW + ms });

describe("run state machine", () => {
  it("runs two parallel calls, waits for both, and answers them to the model in call order", () => {
    const { env, state } = start();
    const asked = advance(
      state,
      {
        kind: "model_response",
        response: response(
          calls(["kubernetes__get_pods", { namespace: "a" }], ["http__fetch", { url: "https://x" }]),
          "Checking.",
        ),
      },
      env,
    );
    expect(asked.callModel).toBe(false);
    expect(asked.state.phase).toBe("waiting");
    expect(types(asked)).toEqual([T.TOOL_REQUESTED, T.TOOL_REQUESTED]);
    const [first, second] = asked.events.map(data);
    expect(first).toMatchObject({
      callId: "1-0",
      skill: "kubernetes",
      tool: "get_pods",
      arguments: { namespace: "a" },
      attempt: 1,
    });
    expect(second).toMatchObject({ callId: "1-1", skill: "http", tool: "fetch" });
    const verdict = verifyCapability(
      first!.token as string,
      {
        runId: "run-1",
        instance: "ops",
        skill: "kubernetes",
        tool: "get_pods",
        callId: "1-0",
        digest: argumentsDigest({ namespace: "a" }),
      },
      staticTrustedKeys(new Map([["ops", [publicKey]]])),
      { now: NOW },
    );
    expect(verdict.ok).toBe(true);
    const again = advance(
      state,
      {
        kind: "model_response",
        response: response(calls(["kubernetes__get_pods", { namespace: "a" }], ["http__fetch", { url: "https://x" }])),
      },
      env,
    );
    expect(again.events.map((e) => e.attributes.id)).toEqual(asked.events.map((e) => e.attributes.id));

    const one = advance(asked.state, completed("1-1", "fetch", "http", { ok: true, result: "page" }), env);
    expect(one.callModel).toBe(false);
    expect(advance(one.state, completed("1-1", "fetch", "http", { ok: true, result: "page" }), env).changed).toBe(
      false,
    );
    const both = advance(one.state, completed("1-0", "get_pods", "kubernetes", { ok: true, result: ["web-1"] }), env);
    expect(both.callModel).toBe(true);
    const tail = both.state.transcript.slice(1);
    expect(tail.map((m) => m.role)).toEqual(["assistant", "tool", "tool"]);
    expect(tail.slice(1).map((m) => (m as { callId: string }).callId)).toEqual(["call_0", "call_1"]);
    expect(JSON.parse((tail[1] as { content: string }).content)).toEqual({
      untrusted: true,
      source: "tool:kubernetes.get_pods",
      content: ["web-1"],
    });

    const done = advance(both.state, { kind: "model_response", response: response([], "web-1 is running") }, env);
    expect(done.state.phase).toBe("completed");
    expect(types(done)).toEqual([T.MESSAGE_SEND, T.RUN_COMPLETED]);
    expect(data(done.events[0]!)).toMatchObject({
      text: "web-1 is running",
      route,
      idempotencyKey: done.events[0]!.attributes.id,
    });
    expect(data(done.events[1]!)).toMatchObject({
      turns: 2,
      toolCalls: 2,
      usage: { inputTokens: 20, outputTokens: 10 },
      output: "web-1 is running",
    });
    expect(advance(done.state, { kind: "sweep" }, env).changed).toBe(false);
  });

  it("answers refused calls at once and calls the model again when nothing else is pending", () => {
    const { env, state } = start({ tools: { deny: ["kubernetes.delete_pod"] } });
    const t = advance(
      state,
      {
        kind: "model_response",
        response: response(calls(["kubernetes__delete_pod", { namespace: "a", name: "b" }], ["nope__tool", {}])),
      },
      env,
    );
    expect(t.events).toEqual([]);
    expect(t.callModel).toBe(true);
    const results = t.state.transcript.filter((m) => m.role === "tool");
    expect(results.map((m) => JSON.parse(m.content).error.class)).toEqual(["PermissionDenied", "NotFound"]);
    expect(results.every((m) => m.role === "tool" && m.isError)).toBe(true);
  });

  it("ignores completions for unknown calls or other attempts, and refuses one from another skill or for other arguments", () => {
    const { env, state } = start();
    const asked = advance(
      state,
      { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
      env,
    );
    expect(advance(asked.state, completed("9-9", "get_pods", "kubernetes", { ok: true, result: 1 }), env).changed).toBe(
      false,
    );
    expect(
      advance(asked.state, completed("1-0", "get_pods", "kubernetes", { ok: true, result: 1 }, 2), env).changed,
    ).toBe(false);
    expect(() => advance(asked.state, completed("1-0", "fetch", "http", { ok: true, result: 1 }), env)).toThrow(
      EventRefused,
    );
    const otherArguments = argumentsDigest({ namespace: "kube-system" });
    expect(() =>
      advance(asked.state, completed("1-0", "get_pods", "kubernetes", { ok: true, result: 1 }, 1, otherArguments), env),
    ).toThrow(/was not sent to kubernetes.get_pods with these arguments/);
  });

  it("retries a retryable error per the contract, with a fresh event id, then gives the model the error", () => {
    const { env, state } = start({ retry: { maxAttempts: 2, retryOn: ["Unavailable"] } });
    const asked = advance(
      state,
      { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
      env,
    );
    const error = { class: "Unavailable" as const, message: "down", retryable: true };
    const retried = advance(asked.state, completed("1-0", "get_pods", "kubernetes", { ok: false, error }), env);
    expect(types(retried)).toEqual([T.TOOL_REQUESTED]);
    expect(data(retried.events[0]!)).toMatchObject({ attempt: 2 });
    expect(retried.events[0]!.attributes.id).not.toBe(asked.events[0]!.attributes.id);
    expect(retried.state.toolCalls).toBe(1);
    const gaveUp = advance(retried.state, completed("1-0", "get_pods", "kubernetes", { ok: false, error }, 2), env);
    expect(gaveUp.callModel).toBe(true);
    expect(JSON.parse(gaveUp.state.transcript.at(-1)!.content)).toMatchObject({
      untrusted: true,
      error: { class: "Unavailable" },
    });
  });

  it("does not retry errors outside retryOn, non-retryable ones, or ones asking to wait too long", () => {
    const { env, state } = start({ retry: { maxAttempts: 3, retryOn: ["Unavailable", "RateLimited"] } });
    const asked = advance(
      state,
      { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
      env,
    );
    for (const error of [
      { class: "NotFound" as const, message: "x", retryable: false },
      { class: "Unavailable" as const, message: "x", retryable: false },
      { class: "RateLimited" as const, message: "x", retryable: true, retryAfterSeconds: 3600 },
    ]) {
      expect(
        advance(asked.state, completed("1-0", "get_pods", "kubernetes", { ok: false, error }), env).callModel,
      ).toBe(true);
    }
    const waits = advance(
      asked.state,
      completed("1-0", "get_pods", "kubernetes", {
        ok: false,
        error: { class: "RateLimited", message: "x", retryable: true, retryAfterSeconds: 2 },
      }),
      env,
    );
    expect(waits.events[0]!.notBefore).toBe(NOW + 2000);
  });

  describe("approvals", () => {
    const ask = (contract: TaskContract = {}) => {
      const { env, state } = start(contract);
      const held = advance(
        state,
        {
          kind: "model_response",
          response: response(calls(["kubernetes__delete_pod", { namespace: "a", name: "web-1" }])),
        },
        env,
      );
      expect(types(held)).toEqual([T.APPROVAL_REQUESTED]);
      const request = data(held.events[0]!);
      expect(request).toMatchObject({
        callId: "1-0",
        tool: "delete_pod",
        digest: argumentsDigest({ namespace: "a", name: "web-1" }),
        replyTo: route,
      });
      return { env, state: held.state, request };
    };
    const decide = (
      request: Record<string, unknown>,
      by: typeof alice,
      overrides: Record<string, unknown> = {},
    ): MachineInput => ({
      kind: "approval_decided",
      data: {
        approvalId: request.approvalId as string,
        runId: "run-1",
        callId: "1-0",
        instance: "ops",
        digest: request.digest as string,
        decision: "approve",
        decidedBy: by,
        ...overrides,
      },
    });
    const resolved = (t: Transition) =>
      t.events.filter((event) => event.attributes.type === T.APPROVAL_RESOLVED).map(data);

    it("names the requester as the approver when the policy names none", () => {
      const { request } = ask();
      expect(request.approvers).toEqual(["slack:U1"]);
    });

    it("releases the held call when an allowed approver approves its digest, and announces it once", () => {
      const { env, state, request } = ask();
      const released = advance(state, decide(request, alice), env);
      expect(types(released)).toEqual([T.APPROVAL_RESOLVED, T.TOOL_REQUESTED]);
      expect(resolved(released)).toEqual([
        expect.objectContaining({
          approvalId: request.approvalId,
          callId: "1-0",
          outcome: "approved",
          decidedBy: alice,
          replyTo: route,
        }),
      ]);
      expect(data(released.events[1]!)).toMatchObject({
        tool: "delete_pod",
        arguments: { namespace: "a", name: "web-1" },
      });
      expect(released.state.toolCalls).toBe(1);
      expect(released.audit).toEqual([expect.objectContaining({ type: "approval.granted" })]);
      // A second decision, even another approve, changes nothing and announces nothing.
      expect(advance(released.state, decide(request, alice), env).changed).toBe(false);
      expect(advance(released.state, decide(request, alice, { decision: "deny" }), env).changed).toBe(false);
    });

    it.each([
      ["a non-approver", (r: Record<string, unknown>) => decide(r, bob), "may not approve"],
      [
        "a wrong digest",
        (r: Record<string, unknown>) => decide(r, alice, { digest: argumentsDigest({ namespace: "a", name: "db-1" }) }),
        "other arguments",
      ],
    ])("refuses %s: the call stays held, only the decider is told, the approver still decides", (_n, input, why) => {
      const { env, state, request } = ask();
      const decision = input(request);
      const refused = advance(state, decision, env);
      expect(refused.changed).toBe(true);
      expect(refused.callModel).toBe(false);
      expect(refused.state.phase).toBe("waiting");
      expect(refused.state.pending[0]!.status).toBe("awaiting_approval");
      expect(types(refused)).toEqual([T.APPROVAL_RESOLVED]);
      const decidedBy = (decision as { data: { decidedBy: unknown } }).data.decidedBy;
      expect(resolved(refused)[0]).toMatchObject({
        outcome: "refused",
        decidedBy,
        reason: expect.stringContaining(why),
      });
      expect(refused.audit).toEqual([
        expect.objectContaining({ type: "approval.refused", data: expect.objectContaining({ callId: "1-0" }) }),
      ]);
      // Each refused decision is answered under its own id (a redelivered one never gets this far: it was applied).
      const again = advance(refused.state, input(request), env);
      expect(again.events[0]!.attributes.id).not.toBe(refused.events[0]!.attributes.id);
      const released = advance(again.state, decide(request, alice), env);
      expect(types(released)).toEqual([T.APPROVAL_RESOLVED, T.TOOL_REQUESTED]);
      expect(resolved(released)[0]).toMatchObject({ outcome: "approved", decidedBy: alice });
    });

    it("a denial by an approver refuses the call to the model and is announced as denied", () => {
      const { env, state, request } = ask();
      const denied = advance(state, decide(request, alice, { decision: "deny", reason: "no" }), env);
      expect(types(denied)).toEqual([T.APPROVAL_RESOLVED]);
      expect(resolved(denied)[0]).toMatchObject({ outcome: "denied", decidedBy: alice, reason: "no" });
      expect(denied.audit).toEqual([expect.objectContaining({ type: "approval.denied" })]);
      expect(denied.callModel).toBe(true);
      expect(JSON.parse(denied.state.transcript.at(-1)!.content)).toMatchObject({
        error: { class: "PermissionDenied", message: expect.stringContaining("denied by alice: no") },
      });
    });

    it("expires a decision arriving after the timeout, and a sweep expires an undecided one", () => {
      const { env, state, request } = ask({ approvals: { timeoutSeconds: 60 } });
      const late = advance(state, decide(request, alice), at(env, 61_000));
      expect(types(late)).toEqual([T.APPROVAL_RESOLVED]);
      expect(resolved(late)[0]).toMatchObject({ outcome: "expired" });
      expect(resolved(late)[0]!.decidedBy).toBeUndefined();
      expect(late.state.transcript.at(-1)!.content).toContain("timed out");
      expect(advance(state, { kind: "sweep" }, at(env, 59_000)).changed).toBe(false);
      const swept = advance(state, { kind: "sweep" }, at(env, 61_000));
      expect(swept.callModel).toBe(true);
      expect(swept.state.transcript.at(-1)!.content).toContain("timed out");
      expect(resolved(swept)).toEqual([expect.objectContaining({ outcome: "expired" })]);
      // The same verdict either way: a sweep and a late decision racing announce one expiry.
      expect(swept.events[0]!.attributes.id).toBe(late.events[0]!.attributes.id);
    });

    it("tells a held approval's prompt that the run ended when it is stopped", () => {
      const { env, state } = ask();
      const stopped = advance(state, { kind: "stop", reason: "stopped", message: "Stopped." }, env);
      expect(resolved(stopped)).toEqual([
        expect.objectContaining({ outcome: "expired", reason: expect.stringContaining("run ended") }),
      ]);
    });

    it("uses the policy's approvers instead of the requester when it names them", () => {
      const { env, state, request } = ask({ approvals: { approvers: ["slack:U2"] } });
      expect(request.approvers).toEqual(["slack:U2"]);
      expect(resolved(advance(state, decide(request, alice), env))[0]).toMatchObject({ outcome: "refused" });
      expect(types(advance(state, decide(request, bob), env))).toEqual([T.APPROVAL_RESOLVED, T.TOOL_REQUESTED]);
    });

    it("refuses a call needing approval when the run has nobody to ask", () => {
      const { env, state } = start({}, { replyTo: false });
      const t = advance(
        state,
        {
          kind: "model_response",
          response: response(calls(["kubernetes__delete_pod", { namespace: "a", name: "b" }])),
        },
        env,
      );
      expect(t.events).toEqual([]);
      expect(t.state.transcript.at(-1)!.content).toContain("nobody to ask");
    });
  });

  describe("budgets and termination", () => {
    const failedWith = (t: Transition, reason: string) => {
      expect(t.state.phase).toBe("failed");
      expect(t.callModel).toBe(false);
      expect(types(t)).toEqual([T.MESSAGE_SEND, T.RUN_FAILED]);
      expect(data(t.events[1]!)).toMatchObject({ reason });
      expect(data(t.events[0]!).text).toMatch(/I had to stop|I stopped/);
    };

    it("stops at the token budget, before acting on the overshooting turn's tool calls", () => {
      const { env, state } = start({ budgets: { tokens: 100 } });
      const t = advance(
        state,
        {
          kind: "model_response",
          response: response(calls(["kubernetes__get_pods", { namespace: "a" }]), "", {
            inputTokens: 90,
            outputTokens: 20,
          }),
        },
        env,
      );
      failedWith(t, "budget_exceeded:tokens");
    });

    it("stops at the cost budget using the price table", () => {
      const { env, state } = start({ budgets: { costUsd: 5 } });
      const t = advance(
        state,
        {
          kind: "model_response",
          response: response(calls(["kubernetes__get_pods", { namespace: "a" }]), "", {
            inputTokens: 3,
            outputTokens: 3,
          }),
        },
        env,
      );
      failedWith(t, "budget_exceeded:cost");
    });

    it("stops when tool calls would pass the tool-call budget, emitting none of them", () => {
      const { env, state } = start({ budgets: { toolCalls: 1 } });
      const t = advance(
        state,
        {
          kind: "model_response",
          response: response(calls(["kubernetes__get_pods", { namespace: "a" }], ["http__fetch", { url: "u" }])),
        },
        env,
      );
      failedWith(t, "budget_exceeded:tool_calls");
      expect(t.events.some((e) => e.attributes.type === T.TOOL_REQUESTED)).toBe(false);
    });

    it("stops at the model-turn budget and at max turns", () => {
      for (const [contract, reason] of [
        [{ budgets: { modelTurns: 1 } }, "budget_exceeded:model_turns"],
        [{ termination: { maxTurns: 1 } }, "max_turns"],
      ] as const) {
        const { env, state } = start(contract);
        const asked = advance(
          state,
          { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
          env,
        );
        const t = advance(asked.state, completed("1-0", "get_pods", "kubernetes", { ok: true, result: 1 }), env);
        expect(t.state.phase).toBe("failed");
        expect(data(t.events.at(-1)!)).toMatchObject({ reason });
      }
    });

    it("stops on the wall clock, by sweep while waiting", () => {
      const { env, state } = start({ budgets: { wallClockSeconds: 30 } });
      const asked = advance(
        state,
        { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
        env,
      );
      expect(advance(asked.state, { kind: "sweep" }, at(env, 29_000)).changed).toBe(false);
      failedWith(advance(asked.state, { kind: "sweep" }, at(env, 30_000)), "budget_exceeded:wall_clock");
    });

    it("stops after N consecutive tool failures, counting refusals; a success resets the count", () => {
      const { env, state } = start({ termination: { maxConsecutiveToolFailures: 2 } });
      const one = advance(state, { kind: "model_response", response: response(calls(["nope__x", {}])) }, env);
      expect(one.callModel).toBe(true);
      const two = advance(one.state, { kind: "model_response", response: response(calls(["nope__y", {}])) }, env);
      expect(two.state.phase).toBe("failed");
      expect(data(two.events.at(-1)!)).toMatchObject({ reason: "tool_failures" });
      const ok = advance(
        one.state,
        { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
        env,
      );
      expect(
        advance(ok.state, completed("2-0", "get_pods", "kubernetes", { ok: true, result: 1 }), env).state
          .consecutiveFailures,
      ).toBe(0);
    });

    it("times out a call its skill never answered", () => {
      const { env, state } = start();
      const asked = advance(
        state,
        { kind: "model_response", response: response(calls(["http__fetch", { url: "u" }])) },
        env,
      );
      expect(advance(asked.state, { kind: "sweep" }, at(env, 69_000)).changed).toBe(false);
      const swept = advance(asked.state, { kind: "sweep" }, at(env, 71_000));
      expect(swept.callModel).toBe(true);
      expect(JSON.parse(swept.state.transcript.at(-1)!.content)).toMatchObject({ error: { class: "Timeout" } });
    });
  });

  it("sends nothing for a quiet heartbeat but still reports the run", () => {
    const { env, state } = start({}, { kind: "schedule" });
    const t = advance(state, { kind: "model_response", response: response([], "HEARTBEAT_OK") }, env);
    expect(types(t)).toEqual([T.RUN_COMPLETED]);
    const loud = advance(state, { kind: "model_response", response: response([], "The disk is 95% full.") }, env);
    expect(types(loud)).toEqual([T.MESSAGE_SEND, T.RUN_COMPLETED]);
  });

  it("ends with the reason when the model fails for good or the run is stopped", () => {
    const { env, state } = start();
    const t = advance(
      state,
      { kind: "model_failed", reason: "model_error:auth", message: "The model provider refused the request." },
      env,
    );
    expect(data(t.events.at(-1)!)).toMatchObject({ reason: "model_error:auth" });
    const stopped = advance(state, { kind: "stop", reason: "stopped", message: "Stopped." }, env);
    expect(data(stopped.events.at(-1)!)).toMatchObject({ reason: "stopped" });
  });

  it("never mutates the state it was given", () => {
    const { env, state } = start();
    const frozen = JSON.stringify(state);
    advance(
      state,
      { kind: "model_response", response: response(calls(["kubernetes__get_pods", { namespace: "a" }])) },
      env,
    );
    expect(JSON.stringify(state)).toBe(frozen);
  });
});
