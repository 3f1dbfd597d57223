import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EVENT_SCHEMAS, type EventType } from "../../../eventing/catalog/events.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../../../eventing/catalog/producers.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { type CloudEvent, jsonBytes, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { EventRefused, verifyingTrust } from "../../../eventing/trust/event-trust.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { roleKeys, signAs, trustBundle } from "../../support/event-keys.ts";

/**
 * The consumer's check (eventing/trust/event-trust.ts) against the catalog's producer rules
 * (eventing/catalog/producers.ts): who may emit each type, bound to the event's data.
 */
const ROLES = [
  "agent/ops",
  "agent/dev",
  "gateway",
  "channel/slack",
  "channel/webhook",
  "skill/time",
  "skill/http",
  "operator",
];

function consumer() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  const trust = verifyingTrust(parseTrustBundle(trustBundle(ROLES), "KNCLAW_EVENT_KEYS"), pino(sink));
  const verdict = (event: CloudEvent): string => {
    try {
      trust.check(event);
      return "accepted";
    } catch (error) {
      expect(error).toBeInstanceOf(EventRefused);
      expect((error as EventRefused).status).toBe(403);
      return (error as EventRefused).reason;
    }
  };
  return { verdict, lines };
}

const usage = { inputTokens: 1, outputTokens: 1 };
const outcome = (instance: string) =>
  makeEvent(T.RUN_COMPLETED, {
    source: "/knclaw/agents/ops",
    data: {
      runId: "run-1",
      instance,
      usage,
      costUsd: 0,
      durationMs: 1,
      turns: 1,
      toolCalls: 0,
      contractVersion: "1",
      output: "ok",
    },
  });
const answer = (skill: string) =>
  makeEvent(T.TOOL_COMPLETED, {
    source: `/knclaw/skills/${skill}`,
    data: {
      runId: "run-1",
      callId: "1-0",
      instance: "ops",
      skill,
      tool: "now",
      digest: `sha256:${"0".repeat(64)}`,
      outcome: { ok: true, result: 1 },
      durationMs: 1,
    },
  });
const decision = (channel: "slack" | "http") =>
  makeEvent(T.APPROVAL_DECIDED, {
    source: "/x",
    data: {
      approvalId: "ap-1",
      runId: "run-1",
      callId: "1-0",
      instance: "ops",
      digest: `sha256:${"0".repeat(64)}`,
      decision: "approve",
      decidedBy: { channel, id: "U1" },
    },
  });
const runRequest = (requestedBy?: "http" | "webhook", sessionKey?: string) =>
  makeEvent(T.RUN_REQUESTED, {
    source: "/x",
    data: {
      instance: "ops",
      runId: "r-1",
      task: "t",
      ...(requestedBy ? { requestedBy: { channel: requestedBy, id: "x" } } : {}),
      ...(sessionKey ? { sessionKey } : {}),
    },
  });

describe("the catalog's producer rules", () => {
  it("names who may emit every event type of the catalog (a new type without a rule fails here)", () => {
    for (const type of Object.keys(EVENT_SCHEMAS) as EventType[]) {
      const rule = PRODUCER_RULES[type];
      expect(rule, `${type} has no producer rule in eventing/catalog/producers.ts`).toBeDefined();
      if (!isUnsignedRule(rule)) expect(rule.summary, type).not.toBe("");
    }
    expect(Object.keys(PRODUCER_RULES).sort()).toEqual(Object.keys(EVENT_SCHEMAS).sort());
  });

  it("lets only PingSource ticks go unsigned", () => {
    const unsigned = (Object.keys(PRODUCER_RULES) as EventType[]).filter((type) =>
      isUnsignedRule(PRODUCER_RULES[type]),
    );
    expect(unsigned).toEqual([T.PING]);
  });

  it("binds each role to the data: the instance's agent, the named skill, the decider's own adapter", () => {
    const { verdict } = consumer();
    expect(verdict(signAs("agent/ops", outcome("ops")))).toBe("accepted");
    expect(verdict(signAs("agent/dev", outcome("ops")))).toBe("role_not_allowed");
    expect(verdict(signAs("gateway", outcome("ops")))).toBe("role_not_allowed");
    expect(verdict(signAs("skill/time", answer("time")))).toBe("accepted");
    expect(verdict(signAs("skill/http", answer("time")))).toBe("role_not_allowed");
    expect(verdict(signAs("agent/ops", answer("time")))).toBe("role_not_allowed");
    expect(verdict(signAs("channel/slack", decision("slack")))).toBe("accepted");
    expect(verdict(signAs("gateway", decision("http")))).toBe("accepted");
    expect(verdict(signAs("gateway", decision("slack")))).toBe("role_not_allowed");
    expect(verdict(signAs("channel/slack", decision("http")))).toBe("role_not_allowed");
    expect(verdict(signAs("gateway", runRequest("http")))).toBe("accepted");
    expect(verdict(signAs("channel/webhook", runRequest("webhook")))).toBe("accepted");
    expect(verdict(signAs("channel/webhook", runRequest("http")))).toBe("role_not_allowed");
    expect(verdict(signAs("channel/slack", runRequest()))).toBe("role_not_allowed");
  });

  it("lets the operator (knclaw send --sign) start runs naming no requester and no session, and sign nothing else", () => {
    const { verdict } = consumer();
    expect(verdict(signAs("operator", runRequest()))).toBe("accepted");
    expect(verdict(signAs("operator", runRequest("http")))).toBe("role_not_allowed");
    expect(verdict(signAs("operator", runRequest("webhook")))).toBe("role_not_allowed");
    // Nor into anyone's conversation: a session named is refused.
    expect(verdict(signAs("operator", runRequest(undefined, "slack:U-ADA")))).toBe("role_not_allowed");
    expect(verdict(signAs("gateway", runRequest(undefined, "slack:U-ADA")))).toBe("accepted");
    expect(verdict(signAs("operator", decision("http")))).toBe("role_not_allowed");
    expect(verdict(signAs("operator", decision("slack")))).toBe("role_not_allowed");
    expect(verdict(signAs("operator", answer("time")))).toBe("role_not_allowed");
    expect(verdict(signAs("operator", outcome("ops")))).toBe("role_not_allowed");
    // Every other type of the catalog allows no operator, whatever its data says.
    for (const type of Object.keys(PRODUCER_RULES) as EventType[]) {
      const rule = PRODUCER_RULES[type];
      if (isUnsignedRule(rule) || type === T.RUN_REQUESTED) continue;
      const data = { instance: "ops", channel: "slack", skill: "time", decidedBy: { channel: "http", id: "x" } };
      expect(rule.allowed(data), type).not.toContain("operator");
    }
  });
});

describe("a consumer's check", () => {
  it("accepts a tick unsigned, and refuses every other type unsigned or of a type nobody may emit", () => {
    const { verdict } = consumer();
    const tick = makeEvent(T.PING, { source: "/pingsource", data: {}, extensions: { knclawinstance: "ops" } });
    expect(verdict(tick)).toBe("accepted");
    expect(verdict(outcome("ops"))).toBe("unsigned");
    const unknown: CloudEvent = { attributes: { specversion: "1.0", id: "x", source: "/x", type: "dev.knclaw.nope" } };
    expect(verdict(signAs("gateway", unknown))).toBe("unknown_type");
    const inherited: CloudEvent = { attributes: { ...unknown.attributes, type: "toString" } };
    expect(verdict(signAs("gateway", inherited))).toBe("unknown_type");
  });

  it("refuses a signed event whose routing extensions disagree with its data", () => {
    const { verdict } = consumer();
    const event = outcome("ops");
    expect(verdict(signAs("agent/ops", withAttributes(event, { knclawinstance: "dev" })))).toBe("routing_mismatch");
    expect(verdict(signAs("agent/ops", withAttributes(event, { knclawrun: undefined })))).toBe("routing_mismatch");
    expect(verdict(signAs("agent/ops", withAttributes(event, { knclawskill: "time" })))).toBe("routing_mismatch");
    const data = JSON.parse(new TextDecoder().decode(event.data)) as Record<string, unknown>;
    // Signed as such, but the data is not the event's own: routing names run-1, the data another run.
    const otherRun = { ...event, data: jsonBytes({ ...data, runId: "run-2" }) };
    expect(verdict(signAs("agent/ops", otherRun))).toBe("routing_mismatch");
    expect(verdict(signAs("agent/ops", { ...event, data: jsonBytes([1, 2]) }))).toBe("role_not_allowed");
  });

  it("writes one audit line per refusal: type, id, producer and reason, never the signature", () => {
    const { verdict, lines } = consumer();
    const forged = signAs("agent/dev", outcome("ops"));
    verdict(forged);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: "event refused",
        reason: "role_not_allowed",
        producer: "agent/dev",
        event: { type: T.RUN_COMPLETED, id: forged.attributes.id, source: "/knclaw/agents/ops" },
      }),
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(forged.attributes.knclawsignature!.split(".")[2]!);
    expect(text).not.toContain(roleKeys("agent/dev").privateKeyPem.split("\n")[1]!);
  });
});
