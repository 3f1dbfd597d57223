import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { EVENT_SCHEMAS, type EventDataInput, type EventType } from "../../eventing/catalog/events.ts";
import { makeEvent } from "../../eventing/catalog/make.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../../eventing/catalog/producers.ts";
import * as T from "../../eventing/catalog/types.ts";
import { type CloudEvent, withAttributes } from "../../eventing/cloudevent/event.ts";
import { encodeBinary } from "../../eventing/cloudevent/http-codec.ts";
import { EXT_PRODUCER, EXT_SIGNATURE } from "../../eventing/trust/signing-input.ts";
import { validateConfigValue } from "../../knative/config/load.ts";
import { render } from "../../knative/render/index.ts";
import { knativeAudience, knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import { argumentsDigest } from "../../skills/runtime/index.ts";
import { FakeSlack } from "../fakes/slack/server.ts";
import { roleKeys, signAs } from "../support/event-keys.ts";

/**
 * The forgery suite (issue 11): a rendered platform on `knclaw dev` with Knative's authentication-oidc emulated and
 * every platform producer signing with a key the test also holds (given through the environment, as an operator
 * gives knclaw dev its Secrets), so each attack is made with real credentials of the wrong kind. For every event type
 * of the catalog (EVENT_SCHEMAS: a new type without a sample here fails to compile) and every function a rendered
 * Trigger delivers it to (the agent, the Slack adapter, the gateway, the time skill), posted straight to that
 * function's `POST /` on the dev port: no credentials, a token for another audience, an expired token (each 401,
 * Knative's answer); a valid token of a ServiceAccount that delivers nothing there (403); then, with a valid token of
 * the delivering Trigger's identity, so only the event signature decides: unsigned, signed by a real key of a role
 * that may not emit it, a genuine signature of another run moved onto this event, data changed after signing (each
 * 403 event_refused). Nothing reaches Slack (its fake counts every API call) and nothing enters the broker. A genuine
 * event replayed changes nothing the first delivery did not.
 */
const NAMESPACE = "knclaw";
const SLACK_SECRET = "slack-signing-secret-forgery";
/** The platform's producers, each with the key the test signs its attacks with. */
const PLATFORM_ROLES = ["agent/ops", "gateway", "channel/slack", "memory"];
const digest = argumentsDigest({ q: "x" });
const slackRoute = { channel: "slack", conversation: "C-OPS" } as const;
const usage = { inputTokens: 1, outputTokens: 1 };

/** One valid event of each type, about run `run`, as its genuine producer would emit it. */
const SAMPLES: { [K in EventType]: (run: string) => EventDataInput<K> } = {
  [T.MESSAGE_RECEIVED]: (run) => ({
    instance: "ops",
    channel: "slack",
    messageId: `m-${run}`,
    conversation: "C-OPS",
    sender: { channel: "slack", id: "U-ADA" },
    text: "hello",
    replyTo: slackRoute,
    receivedAt: new Date().toISOString(),
  }),
  [T.RUN_REQUESTED]: (run) => ({ instance: "ops", runId: run, task: "do it", replyTo: slackRoute }),
  [T.PING]: () => ({ task: "heartbeat" }),
  [T.TOOL_REQUESTED]: (run) => ({
    runId: run,
    callId: `c-${run}`,
    instance: "ops",
    skill: "time",
    tool: "now",
    arguments: { q: "x" },
    token: "kc1.e30.AA",
  }),
  [T.TOOL_COMPLETED]: (run) => ({
    runId: run,
    callId: `c-${run}`,
    instance: "ops",
    skill: "time",
    tool: "now",
    digest,
    outcome: { ok: true, result: "forged" },
    durationMs: 1,
  }),
  [T.APPROVAL_REQUESTED]: (run) => ({
    approvalId: `a-${run}`,
    runId: run,
    callId: `c-${run}`,
    instance: "ops",
    skill: "time",
    tool: "now",
    arguments: { q: "x" },
    digest,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    replyTo: slackRoute,
  }),
  [T.APPROVAL_DECIDED]: (run) => ({
    approvalId: `a-${run}`,
    runId: run,
    callId: `c-${run}`,
    instance: "ops",
    digest,
    decision: "approve",
    decidedBy: { channel: "slack", id: "U-ADA" },
  }),
  [T.APPROVAL_RESOLVED]: (run) => ({
    approvalId: `a-${run}`,
    runId: run,
    callId: `c-${run}`,
    instance: "ops",
    outcome: "approved",
    decidedBy: { channel: "slack", id: "U-ADA" },
    replyTo: slackRoute,
  }),
  [T.MESSAGE_SEND]: (run) => ({
    instance: "ops",
    runId: run,
    route: slackRoute,
    text: "the bot says whatever I want",
    idempotencyKey: `k-${run}`,
  }),
  [T.RUN_COMPLETED]: (run) => ({
    runId: run,
    instance: "ops",
    usage,
    costUsd: 0,
    durationMs: 1,
    turns: 1,
    toolCalls: 0,
    contractVersion: "1",
    output: "forged outcome",
    replyTo: slackRoute,
  }),
  [T.RUN_FAILED]: (run) => ({
    runId: run,
    instance: "ops",
    usage,
    costUsd: 0,
    durationMs: 1,
    turns: 1,
    toolCalls: 0,
    contractVersion: "1",
    reason: "forged",
    message: "forged failure",
    replyTo: slackRoute,
  }),
  [T.TIMER_FIRED]: (run) => ({
    instance: "ops",
    target: "agent",
    kind: "run",
    id: run,
    dueAt: new Date().toISOString(),
  }),
};

function sample(type: EventType, run: string, overrides: Record<string, unknown> = {}): CloudEvent {
  const event = makeEvent(type, {
    source: "/forgery",
    data: { ...(SAMPLES[type] as (run: string) => Record<string, unknown>)(run), ...overrides },
  } as never);
  // A PingSource carries its instance as a CloudEvent override, not in its data.
  return type === T.PING ? withAttributes(event, { knclawinstance: "ops" }) : event;
}

/** The roles the catalog allows for this event, and a platform role it does not. */
function roles(event: CloudEvent): { allowed: string | undefined; forbidden: string } {
  const rule = PRODUCER_RULES[event.attributes.type as EventType];
  const data = JSON.parse(Buffer.from(event.data!).toString("utf8")) as Record<string, unknown>;
  const allowed = isUnsignedRule(rule) ? [] : rule.allowed(data);
  return { allowed: allowed[0], forbidden: PLATFORM_ROLES.find((role) => !allowed.includes(role))! };
}

let dev: DevRuntime;
let slack: FakeSlack;
let triggers: KnativeObject[];

function platform(): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: NAMESPACE },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 2, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    policies: { default: { termination: { maxTurns: 3 } } },
    skills: { time: {} },
    instances: { ops: { model: "demo/demo", policy: "default", skills: ["time"] } },
    channels: {
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        settings: { slackApiBaseUrl: slack.apiBaseUrl },
        defaultInstance: "ops",
        access: "open",
      },
    },
  });
  return render(config) as unknown as KnativeObject[];
}

beforeAll(async () => {
  slack = await new FakeSlack().start();
  const objects = platform();
  triggers = objects.filter((o) => o.kind === "Trigger");
  dev = await startDev({
    objects,
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    env: {
      SLACK_SIGNING: SLACK_SECRET,
      SLACK_BOT: slack.token,
      // The platform's own signing keys (Secret knclaw-event-keys / knclaw-agent-keys), known to the attacker here.
      KNCLAW_AGENT_KEYS_OPS: roleKeys("agent/ops").privateKeyPem,
      KNCLAW_EVENT_KEYS_GATEWAY: roleKeys("gateway").privateKeyPem,
      KNCLAW_EVENT_KEYS_CHANNEL_SLACK: roleKeys("channel/slack").privateKeyPem,
      KNCLAW_EVENT_KEYS_MEMORY: roleKeys("memory").privateKeyPem,
    },
    oidc: {},
  });
}, 180_000);

afterAll(async () => {
  await dev?.shutdown();
  await slack?.stop();
});

/** The Triggers that deliver this event to one of the platform's functions. */
function deliveriesOf(event: CloudEvent): Array<{ trigger: string; fn: string }> {
  return triggers.flatMap((trigger) => {
    const spec = trigger.spec as {
      filter: { attributes: Record<string, string> };
      subscriber: { ref?: { name: string } };
    };
    const matches = Object.entries(spec.filter.attributes).every(([name, value]) => event.attributes[name] === value);
    const fn = spec.subscriber.ref?.name;
    return matches && fn !== undefined ? [{ trigger: trigger.metadata.name, fn }] : [];
  });
}

const audienceOf = (fn: string) =>
  knativeAudience({ group: "serving.knative.dev", kind: "Service", namespace: NAMESPACE, name: fn });
const identityOf = (trigger: string) =>
  serviceAccountSubject(
    NAMESPACE,
    knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: trigger }),
  );

async function post(fn: string, event: CloudEvent, token?: string): Promise<{ status: number; body: string }> {
  const url = dev.functions.find((f) => f.name === fn)!.localUrl;
  const { headers, body } = encodeBinary(event);
  const response = await fetch(`${url}/`, {
    method: "POST",
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body as Uint8Array<ArrayBuffer>,
  });
  return { status: response.status, body: await response.text() };
}

const mint = async (subject: string, audience: string, lifetimeSeconds?: number) =>
  (await dev.oidc!.issuer.mint(subject, audience, lifetimeSeconds)).token;

const TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

describe("forgery: every catalog type x every function a Trigger delivers it to", () => {
  it("covers every type of the catalog", () => {
    expect(TYPES.sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  for (const type of TYPES) {
    it(`${type}: refused without the delivering Trigger's valid token, and without a genuine signature; replay changes nothing`, async () => {
      const event = sample(type, `forged-${type}`);
      const targets = deliveriesOf(event);
      expect(targets.length, "a function this platform delivers it to").toBeGreaterThan(0);
      await dev.idle();
      const slackBefore = slack.posts().length;
      const countersBefore = { ...dev.counters };
      for (const { trigger, fn } of targets) {
        const identity = identityOf(trigger);
        const other = dev.functions.find((f) => f.name !== fn)!.name;
        // Delivery authentication: Knative's 401.
        expect((await post(fn, event)).status, `${fn}: no credentials`).toBe(401);
        expect((await post(fn, event, await mint(identity, audienceOf(other)))).status, `${fn}: wrong audience`).toBe(
          401,
        );
        expect((await post(fn, event, await mint(identity, audienceOf(fn), -120))).status, `${fn}: expired`).toBe(401);
        // A valid token of someone who does not deliver here (any workload can get one for this audience).
        expect(
          (await post(fn, event, await mint(`system:serviceaccount:${NAMESPACE}:intruder`, audienceOf(fn)))).status,
          `${fn}: not a delivering Trigger`,
        ).toBe(403);
        const token = await mint(identity, audienceOf(fn));
        const { allowed, forbidden } = roles(event);
        if (allowed === undefined) continue; // A PingSource tick: Knative cannot sign it; see the heartbeat test.
        const refused = async (forged: CloudEvent, what: string) => {
          const answer = await post(fn, forged, token);
          expect(answer.status, `${fn}: ${what}`).toBe(403);
          expect(answer.body, `${fn}: ${what}`).toContain("event_refused");
        };
        await refused(event, "unsigned");
        await refused(signAs(forbidden, event), `signed by ${forbidden}`);
        // A genuine signature, captured from another run's event, moved onto this one.
        const captured = signAs(allowed, sample(type, `genuine-other-${type}`));
        await refused(
          withAttributes(event, {
            [EXT_PRODUCER]: captured.attributes[EXT_PRODUCER],
            [EXT_SIGNATURE]: captured.attributes[EXT_SIGNATURE],
          }),
          "signature of another run",
        );
        const signed = signAs(allowed, event);
        const tampered = {
          attributes: signed.attributes,
          data: Buffer.from(Buffer.from(signed.data!).toString().replace("ops", "opz")),
        };
        await refused(tampered, "data tampered after signing");
      }
      await dev.idle();
      expect(slack.posts().length, "nothing posted to Slack").toBe(slackBefore);
      expect(dev.counters.accepted, "nothing entered the broker").toBe(countersBefore.accepted);
    });
  }

  it("a genuine event replayed to its function changes nothing the first delivery did not", async () => {
    // message.send: the first delivery posts once; the replay (same id, same signature, a fresh valid token) does not.
    const event = signAs("agent/ops", sample(T.MESSAGE_SEND, "replayed"));
    const [{ trigger, fn }] = deliveriesOf(event) as [{ trigger: string; fn: string }];
    const before = slack.posts().length;
    expect((await post(fn, event, await mint(identityOf(trigger), audienceOf(fn)))).status).toBeLessThan(300);
    await dev.idle();
    expect(slack.posts().length).toBe(before + 1);
    expect((await post(fn, event, await mint(identityOf(trigger), audienceOf(fn)))).status).toBeLessThan(300);
    await dev.idle();
    expect(slack.posts().length).toBe(before + 1);
  });

  it("a heartbeat (unsigned: Knative's PingSource cannot sign) is taken only from the PingSource's own Trigger", async () => {
    const event = withAttributes(sample(T.PING, "tick"), { knclawschedule: "not-configured" });
    const targets = deliveriesOf(event);
    expect(targets.map((t) => t.fn)).toEqual(["agent-ops"]);
    const fn = "agent-ops";
    expect((await post(fn, event)).status).toBe(401);
    // With its Trigger's valid token, what protects it is the agent's own rule: only a configured schedule fires, with
    // its configured task (test/functions/agent/loop-schedules.test.ts); this schedule is not configured.
    const before = slack.posts().length;
    const answer = await post(fn, event, await mint(identityOf(targets[0]!.trigger), audienceOf(fn)));
    expect(answer.status).toBeLessThan(500);
    await dev.idle();
    expect(slack.posts().length).toBe(before);
  });
});
