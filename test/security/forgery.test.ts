import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upperSnake } from "../../cli/dev/secrets.ts";
import { type DevRuntime, startDev } from "../../cli/dev/start-dev.ts";
import { MemoryClient } from "../../clients/memory/client.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
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
import { containerEnv } from "../../knative/secrets/plan.ts";
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
 * 403 event_refused). The events are about a real run held for an approval (its run, call and approval ids, and the
 * digest of the held call's arguments), so each forgery, had it been taken, would change something. After every
 * attack the state is read back through the public APIs and must be unchanged: the run as the gateway tells it
 * (`GET /api/v1/runs/{id}`), the approval (`GET /api/v1/approvals/{id}`), the memory service's run documents of the
 * instance (its API, with a gateway-scoped token), every call Slack's fake took, and the broker's accepted count.
 * Every genuine event replayed changes nothing its first delivery did not. At the end the held call is approved for
 * real and the run completes: the fixture was live all along. Each function served alone, outside knclaw dev, is
 * attacked the same way in forgery-alone.test.ts.
 */
const NAMESPACE = "knclaw";
const SLACK_SECRET = "slack-signing-secret-forgery";
const GATEWAY_TOKEN = "forgery-suite-gateway-token-0123456789";
const MEMORY_SECRET = "forgery-suite-memory-token-secret-0123456789";
/** The platform's producers, each with the key the test signs its attacks with. */
const PLATFORM_ROLES = ["agent/ops", "gateway", "channel/slack", "memory"];
const digest = argumentsDigest({ q: "x" });
const slackRoute = { channel: "slack", conversation: "C-OPS" } as const;
const usage = { inputTokens: 1, outputTokens: 1 };

/** What an event is about: a run, one of its calls and that call's approval, with the digest of its arguments. */
interface Target {
  runId: string;
  callId: string;
  approvalId: string;
  digest: string;
}

/** Ids of a run that does not exist (a captured signature's run, a replayed event's). */
const elsewhere = (tag: string): Target => ({ runId: tag, callId: `c-${tag}`, approvalId: `a-${tag}`, digest });

/** One valid event of each type, about `target`, as its genuine producer would emit it. */
const SAMPLES: { [K in EventType]: (target: Target) => EventDataInput<K> } = {
  [T.MESSAGE_RECEIVED]: (t) => ({
    instance: "ops",
    channel: "slack",
    messageId: `m-${t.runId}`,
    conversation: "C-OPS",
    sender: { channel: "slack", id: "U-ADA" },
    text: "hello",
    replyTo: slackRoute,
    receivedAt: new Date().toISOString(),
  }),
  [T.RUN_REQUESTED]: (t) => ({ instance: "ops", runId: t.runId, task: "do it", replyTo: slackRoute }),
  [T.PING]: () => ({ task: "heartbeat" }),
  [T.TOOL_REQUESTED]: (t) => ({
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    skill: "time",
    tool: "now",
    arguments: { q: "x" },
    token: "kc1.e30.AA",
  }),
  [T.TOOL_COMPLETED]: (t) => ({
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    skill: "time",
    tool: "now",
    digest: t.digest,
    outcome: { ok: true, result: "forged" },
    durationMs: 1,
  }),
  [T.APPROVAL_REQUESTED]: (t) => ({
    approvalId: t.approvalId,
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    skill: "time",
    tool: "now",
    arguments: { q: "x" },
    digest: t.digest,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    replyTo: slackRoute,
  }),
  [T.APPROVAL_DECIDED]: (t) => ({
    approvalId: t.approvalId,
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    digest: t.digest,
    decision: "approve",
    // The run's real approver: only the gateway's own signature can carry this decision.
    decidedBy: { channel: "http", id: "cli" },
  }),
  [T.APPROVAL_RESOLVED]: (t) => ({
    approvalId: t.approvalId,
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    outcome: "approved",
    decidedBy: { channel: "slack", id: "U-ADA" },
    replyTo: slackRoute,
  }),
  [T.MESSAGE_SEND]: (t) => ({
    instance: "ops",
    runId: t.runId,
    route: slackRoute,
    text: "the bot says whatever I want",
    idempotencyKey: `k-${t.runId}`,
  }),
  [T.RUN_COMPLETED]: (t) => ({
    runId: t.runId,
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
  [T.RUN_FAILED]: (t) => ({
    runId: t.runId,
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
  [T.TIMER_FIRED]: (t) => ({
    instance: "ops",
    target: "agent",
    // The run's deadline timer, due after the approval expires: taken, it would expire the held call.
    kind: "deadline",
    id: t.runId,
    dueAt: new Date(Date.now() + 7_200_000).toISOString(),
  }),
};

function sample(type: EventType, target: Target): CloudEvent {
  const event = makeEvent(type, {
    source: "/forgery",
    id: `${type}-${target.runId}`,
    data: (SAMPLES[type] as (target: Target) => Record<string, unknown>)(target),
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
let memory: MemoryClient;
/** The run held for an approval that every forged event is about. */
let held: Target;

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
    // No re-drive while the suite runs: the held run's state must change only if a forgery is taken.
    // The suite reads the state back after every attack: far more requests than the default limit lets a token make.
    gateway: {
      tokens: { cli: { secret: "gateway", key: "cli" } },
      redriveAfterSeconds: 3600,
      rateLimit: { requestsPerMinute: 1_000_000, burst: 1_000_000 },
    },
    policies: {
      default: { tools: { allow: ["time.*"] }, approvals: { tools: ["time.now"] }, termination: { maxTurns: 3 } },
    },
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

/** `knclaw dev` takes the memory token secret from `<SECRET>_SECRET` (cli/dev/secrets.ts): the rendered one's name. */
function memorySecretEnv(objects: KnativeObject[]): string {
  const memoryService = objects.find((o) => o.kind === "Service" && o.metadata.name === "memory")!;
  const ref = containerEnv(memoryService).find((entry) => entry.name === "KNCLAW_MEMORY_TOKEN_SECRET")!.ref!;
  return upperSnake(`${ref.secret}_secret`);
}

const gateway = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${dev.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

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
      GATEWAY_CLI: GATEWAY_TOKEN,
      [memorySecretEnv(objects)]: MEMORY_SECRET,
      // The platform's own signing keys (Secret knclaw-event-keys / knclaw-agent-keys), known to the attacker here.
      KNCLAW_AGENT_KEYS_OPS: roleKeys("agent/ops").privateKeyPem,
      KNCLAW_EVENT_KEYS_GATEWAY: roleKeys("gateway").privateKeyPem,
      KNCLAW_EVENT_KEYS_CHANNEL_SLACK: roleKeys("channel/slack").privateKeyPem,
      KNCLAW_EVENT_KEYS_MEMORY: roleKeys("memory").privateKeyPem,
    },
    oidc: {},
  });
  memory = new MemoryClient({
    baseUrl: dev.functions.find((f) => f.name === "memory")!.localUrl,
    token: mintMemoryToken(MEMORY_SECRET, { kind: "gateway" }),
  });
  // A real run, held for its call of time.now: the target of every forgery.
  const started = await gateway("/api/v1/instances/ops/runs", {
    method: "POST",
    body: JSON.stringify({ task: "What time is it? Use now." }),
  });
  expect(started.status).toBe(202);
  const runId = started.body.runId as string;
  await dev.idle();
  const doc = (await memory.findRun(runId))!;
  expect(doc.status).toBe("waiting");
  const call = (doc.state as { pending: Array<{ approval?: { id: string } }> }).pending[0]!;
  const approval = await gateway(`/api/v1/approvals/${call.approval!.id}`);
  expect(approval.body).toMatchObject({ status: "open", mayDecide: true });
  held = {
    runId,
    callId: approval.body.callId as string,
    approvalId: approval.body.approvalId as string,
    digest: approval.body.digest as string,
  };
}, 180_000);

afterAll(async () => {
  await dev?.shutdown();
  await slack?.stop();
});

/**
 * Everything a forgery could change, read back through the public APIs: the held run and its approval as the gateway
 * tells them, every run document of the instance (id, version, status) as the memory service keeps them, and every
 * call Slack's fake took.
 */
async function state() {
  const [run, approval, runs] = await Promise.all([
    gateway(`/api/v1/runs/${held.runId}`),
    gateway(`/api/v1/approvals/${held.approvalId}`),
    memory.listRuns("ops", { limit: 200 }),
  ]);
  return {
    run,
    approval,
    runs: runs.runs.map((r) => ({ id: r.id, version: r.version, status: r.status })),
    slack: slack.accepted.length,
  };
}

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
    it(`${type}: refused without the delivering Trigger's valid token, and without a genuine signature; nothing changes`, async () => {
      const event = sample(type, held);
      const targets = deliveriesOf(event);
      expect(targets.length, "a function this platform delivers it to").toBeGreaterThan(0);
      await dev.idle();
      const before = await state();
      const accepted = dev.counters.accepted;
      for (const { trigger, fn } of targets) {
        const identity = identityOf(trigger);
        const other = dev.functions.find((f) => f.name !== fn)!.name;
        /** The attack is answered `status` (and `event_refused` for a signature's), and nothing changed. */
        const attack = async (what: string, forged: CloudEvent, token: string | undefined, status: number) => {
          const answer = await post(fn, forged, token);
          expect(answer.status, `${fn}: ${what}`).toBe(status);
          if (status === 403 && token !== undefined && what !== "not a delivering Trigger")
            expect(answer.body, `${fn}: ${what}`).toContain("event_refused");
          expect(await state(), `${fn}: ${what}: state read back`).toEqual(before);
          expect(dev.counters.accepted, `${fn}: ${what}: nothing entered the broker`).toBe(accepted);
        };
        // Delivery authentication: Knative's 401.
        await attack("no credentials", event, undefined, 401);
        await attack("wrong audience", event, await mint(identity, audienceOf(other)), 401);
        await attack("expired", event, await mint(identity, audienceOf(fn), -120), 401);
        // A valid token of someone who does not deliver here (any workload can get one for this audience).
        const intruder = await mint(`system:serviceaccount:${NAMESPACE}:intruder`, audienceOf(fn));
        await attack("not a delivering Trigger", event, intruder, 403);
        const token = await mint(identity, audienceOf(fn));
        const { allowed, forbidden } = roles(event);
        if (allowed === undefined) continue; // A PingSource tick: Knative cannot sign it; see the heartbeat test.
        await attack("unsigned", event, token, 403);
        await attack(`signed by ${forbidden}`, signAs(forbidden, event), token, 403);
        // A genuine signature, captured from another run's event, moved onto this one.
        const captured = signAs(allowed, sample(type, elsewhere(`genuine-other-${type}`)));
        const moved = withAttributes(event, {
          [EXT_PRODUCER]: captured.attributes[EXT_PRODUCER],
          [EXT_SIGNATURE]: captured.attributes[EXT_SIGNATURE],
        });
        await attack("signature of another run", moved, token, 403);
        const signed = signAs(allowed, event);
        const tampered = {
          attributes: signed.attributes,
          data: Buffer.from(Buffer.from(signed.data!).toString().replace("ops", "opz")),
        };
        await attack("data tampered after signing", tampered, token, 403);
      }
      await dev.idle();
      expect(await state(), "after the broker went idle").toEqual(before);
      expect(dev.counters.accepted, "nothing entered the broker").toBe(accepted);
    });
  }

  for (const type of TYPES) {
    it(`${type}: a genuine event replayed to its functions changes nothing the first delivery did not`, async () => {
      // About a run of its own, so what the first delivery does (start a run, post, ...) leaves the held run alone. A
      // replayed step may send its events again, under the same ids (ARCHITECTURE.md, Events): what they would do is
      // what is compared, not how many the broker took.
      const event = sample(type, elsewhere(`replayed-${type}`));
      const { allowed } = roles(event);
      const genuine = allowed === undefined ? event : signAs(allowed, event);
      const deliverAll = async () => {
        for (const { trigger, fn } of deliveriesOf(genuine)) {
          const answer = await post(fn, genuine, await mint(identityOf(trigger), audienceOf(fn)));
          expect(answer.status, `${fn}: ${answer.body}`).toBeLessThan(500);
        }
        await dev.idle();
        return state();
      };
      const first = await deliverAll();
      expect(await deliverAll(), "the replay").toEqual(first);
    });
  }

  it("a heartbeat (unsigned: Knative's PingSource cannot sign) is taken only from the PingSource's own Trigger", async () => {
    const event = withAttributes(sample(T.PING, elsewhere("tick")), { knclawschedule: "not-configured" });
    const targets = deliveriesOf(event);
    expect(targets.map((t) => t.fn)).toEqual(["agent-ops"]);
    const fn = "agent-ops";
    expect((await post(fn, event)).status).toBe(401);
    // With its Trigger's valid token, what protects it is the agent's own rule: only a configured schedule fires, with
    // its configured task (test/functions/agent/loop-schedules.test.ts); this schedule is not configured.
    await dev.idle();
    const before = await state();
    const answer = await post(fn, event, await mint(identityOf(targets[0]!.trigger), audienceOf(fn)));
    expect(answer.status).toBeLessThan(500);
    await dev.idle();
    expect(await state()).toEqual(before);
  });

  it("the held run was live all along: its real approver's decision runs the call once and completes it", async () => {
    const decided = await gateway(`/api/v1/approvals/${held.approvalId}`, {
      method: "POST",
      body: JSON.stringify({ decision: "approve" }),
    });
    expect(decided.status).toBe(202);
    await dev.idle();
    expect((await gateway(`/api/v1/runs/${held.runId}`)).body).toMatchObject({ status: "completed" });
    expect((await gateway(`/api/v1/approvals/${held.approvalId}`)).body).toMatchObject({
      status: "approved",
      decidedBy: "http:cli",
    });
  });
});
