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
import { type Served, serve } from "../../runtime/serve.ts";
import { createApp as createKubernetesApp } from "../../skills/kubernetes/app.ts";
import { argumentsDigest } from "../../skills/runtime/index.ts";
import { type ChatFakes, chatChannelsConfig } from "../fakes/chat-channels.ts";
import { FakeDiscord } from "../fakes/discord/server.ts";
import { type FakeKubernetes, startFakeKubernetes } from "../fakes/kubernetes/server.ts";
import { type FakeIssuer, startFakeIssuer } from "../fakes/oidc/issuer.ts";
import { FakeSlack } from "../fakes/slack/server.ts";
import { FakeTelegram } from "../fakes/telegram/server.ts";
import { FakeWhatsApp } from "../fakes/whatsapp/server.ts";
import { eventKeysEnv, roleKeys, signAs } from "../support/event-keys.ts";

/**
 * The forgery suite (issue 11): a rendered platform (the agent, the gateway, the Slack, Telegram, Discord and WhatsApp
 * adapters, the time, http and memory skills, the dead-letter sink) with Knative's authentication-oidc emulated and
 * every platform producer signing with a key the test also holds (given through the environment, as an operator gives
 * knclaw dev its Secrets), so each attack is made with real credentials of the wrong kind. Run twice: on knclaw dev
 * (every function in the dev process, reached on the dev port), and with each function served alone (its main.ts as
 * its own process on its own port, `--processes`, posted to directly as a pod is reached past the broker).
 *
 * For every delivery route the platform renders (each Trigger: the function it delivers to and the type it filters;
 * the suite checks that every catalog type and every consumer function has one; EVENT_SCHEMAS types SAMPLES, so a new
 * type without a sample does not compile), an event of that type posted to that function's `POST /`: no credentials,
 * a token for another audience, an expired token (each 401, Knative's answer); a valid token of a ServiceAccount that
 * delivers nothing there (403); then, with a valid token of the delivering Trigger's identity, so only the event
 * signature decides: unsigned, signed by a real key of a role that may not emit it, a genuine signature of another
 * run moved onto this event, data changed after signing (each 403 event_refused). The dead-letter sink keeps events as
 * delivered (a replay is checked by its consumer), so it gets the identity attacks only; the webhook adapter, which no
 * Trigger delivers to, gets them all.
 *
 * The events are about a real run held for an approval (its run, call and approval ids, and the digest of the held
 * call's arguments), so each forgery, had it been taken, would change something. After every attack the state is
 * read back through the public APIs and must be unchanged: the run as the gateway tells it (`GET /api/v1/runs/{id}`),
 * the approval (`GET /api/v1/approvals/{id}`), the memory service's run documents of the instance (its API, with a
 * gateway-scoped token), the dead letters, every call each platform's fake took, and the broker's accepted count.
 * Every genuine event replayed changes nothing its first delivery did not. At the end the held call is approved for
 * real and the run completes: the fixture was live all along.
 */
const NAMESPACE = "knclaw";
const SLACK_SECRET = "slack-signing-secret-forgery";
const GATEWAY_TOKEN = "forgery-suite-gateway-token-0123456789";
const MEMORY_SECRET = "forgery-suite-memory-token-secret-0123456789";
const DEADLETTER_TOKEN = "forgery-suite-deadletter-token-0123456789";
/** The platform's producers, each with the key the test signs its attacks with. */
const PLATFORM_ROLES = [
  "agent/ops",
  "gateway",
  "channel/slack",
  "channel/telegram",
  "channel/discord",
  "channel/whatsapp",
  "memory",
  "skill/time",
  "skill/http",
  "skill/memory",
];
const digest = argumentsDigest({ q: "x" });
const usage = { inputTokens: 1, outputTokens: 1 };

/** What an event is about: a run, one of its calls and that call's approval, with the digest of its arguments. */
interface Target {
  runId: string;
  callId: string;
  approvalId: string;
  digest: string;
  /** The chat the event's route names, so it is delivered to that channel's adapter. */
  channel: ChatChannel;
  /** The skill a tool call names, so it is delivered to that skill. */
  skill: string;
  /** The function a timer wakes. */
  wakes: "agent" | "gateway";
}

type ChatChannel = "slack" | "telegram" | "discord" | "whatsapp" | "http";
/** Where an event goes, beside its instance: the route's channel, the skill called, the function a timer wakes. */
type Where = Pick<Target, "channel" | "skill" | "wakes">;

/** Ids of a run that does not exist (a captured signature's run, a replayed event's). */
const elsewhere = (tag: string, at: Where = { channel: "slack", skill: "time", wakes: "agent" }): Target => ({
  runId: tag,
  callId: `c-${tag}`,
  approvalId: `a-${tag}`,
  digest,
  ...at,
});

const routeOf = (t: Target) => ({ channel: t.channel, conversation: "C-OPS" });

/** One valid event of each type, about `target`, as its genuine producer would emit it. */
const SAMPLES: { [K in EventType]: (target: Target) => EventDataInput<K> } = {
  [T.MESSAGE_RECEIVED]: (t) => ({
    instance: "ops",
    channel: t.channel,
    messageId: `m-${t.runId}`,
    conversation: "C-OPS",
    sender: { channel: t.channel, id: "U-ADA" },
    text: "hello",
    replyTo: routeOf(t),
    receivedAt: new Date().toISOString(),
  }),
  [T.RUN_REQUESTED]: (t) => ({ instance: "ops", runId: t.runId, task: "do it", replyTo: routeOf(t) }),
  [T.PING]: () => ({ task: "heartbeat" }),
  [T.TOOL_REQUESTED]: (t) => ({
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    skill: t.skill,
    tool: "now",
    arguments: { q: "x" },
    token: "kc1.e30.AA",
  }),
  [T.TOOL_COMPLETED]: (t) => ({
    runId: t.runId,
    callId: t.callId,
    instance: "ops",
    skill: t.skill,
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
    skill: t.skill,
    tool: "now",
    arguments: { q: "x" },
    digest: t.digest,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    replyTo: routeOf(t),
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
    replyTo: routeOf(t),
  }),
  [T.MESSAGE_SEND]: (t) => ({
    instance: "ops",
    runId: t.runId,
    route: routeOf(t),
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
    replyTo: routeOf(t),
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
    replyTo: routeOf(t),
  }),
  [T.TIMER_FIRED]: (t) => ({
    instance: "ops",
    target: t.wakes,
    // The run's deadline timer (or the gateway's re-drive of it), due after the approval expires: taken, it would
    // expire the held call (or send the run's request again).
    kind: t.wakes === "agent" ? "deadline" : "redrive",
    id: t.runId,
    dueAt: new Date(Date.now() + 7_200_000).toISOString(),
  }),
};

function sample(type: EventType, target: Target): CloudEvent {
  const event = makeEvent(type, {
    source: "/forgery",
    id: `${type}-${target.runId}-${target.channel}-${target.skill}`,
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

const TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];
const CHATS = ["slack", "telegram", "discord", "whatsapp"] as const;
const SKILLS = ["time", "http", "memory"];

/** The platform under attack: every chat adapter against its fake, the webhook adapter, the gateway, three skills. */
function platform(fakes: ChatFakes): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: NAMESPACE },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 2, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: {},
    },
    memory: {},
    // No re-drive while the suite runs: the held run's state must change only if a forgery is taken. The suite reads
    // the state back after every attack: far more requests than the default limit lets a token make.
    gateway: {
      tokens: { cli: { secret: "gateway", key: "cli" } },
      redriveAfterSeconds: 3600,
      rateLimit: { requestsPerMinute: 1_000_000, burst: 1_000_000 },
    },
    policies: {
      default: { tools: { allow: ["time.*"] }, approvals: { tools: ["time.now"] }, termination: { maxTurns: 3 } },
    },
    skills: Object.fromEntries(SKILLS.map((skill) => [skill, {}])),
    instances: { ops: { model: "demo/demo", policy: "default", skills: SKILLS } },
    channels: {
      ...chatChannelsConfig(fakes),
      // It only starts runs (signed webhooks in): no Trigger delivers to it.
      webhook: {
        secrets: { signingSecret: { secret: "hooks", key: "signing" } },
        hooks: {
          alerts: { instance: "ops", task: "Summarise {{alert}}", replyTo: { channel: "slack", conversation: "C" } },
        },
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

/** One delivery route of the platform: a Trigger, the function it delivers to, and the event type it filters. */
interface Route {
  trigger: string;
  fn: string;
  type: EventType;
  /** The Trigger's attribute filter. */
  filter: Record<string, string>;
  at: Where;
}

const matches = (route: Route, event: CloudEvent) =>
  Object.entries(route.filter).every(([name, value]) => event.attributes[name] === value);

function routesOf(triggers: KnativeObject[]): Route[] {
  return triggers.flatMap((trigger) => {
    const spec = trigger.spec as {
      filter: { attributes: Record<string, string> };
      subscriber: { ref?: { name: string } };
    };
    const fn = spec.subscriber.ref?.name;
    const { type, knclawchannel, knclawskill, knclawtarget } = spec.filter.attributes;
    if (fn === undefined || type === undefined) return [];
    const channel = [...CHATS, "http" as const].find((chat) => chat === knclawchannel) ?? "slack";
    const at: Where = {
      channel,
      skill: knclawskill ?? "time",
      wakes: knclawtarget === "gateway" ? "gateway" : "agent",
    };
    return [{ trigger: trigger.metadata.name, fn, type: type as EventType, filter: spec.filter.attributes, at }];
  });
}

const audienceOf = (fn: string) =>
  knativeAudience({ group: "serving.knative.dev", kind: "Service", namespace: NAMESPACE, name: fn });
const identityOf = (trigger: string) =>
  serviceAccountSubject(
    NAMESPACE,
    knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: trigger }),
  );

/** A function under attack: how to post to it, its issuer, who delivers to it, and the check that nothing changed. */
interface Arena {
  post(event: CloudEvent, token?: string): Promise<{ status: number; body: string }>;
  mint(subject: string, audience: string, lifetimeSeconds?: number): Promise<string>;
  /** Its audience, another function's, and the identity of what delivers to it. */
  audience: string;
  otherAudience: string;
  sender: string;
  /** Asserts that the state it could change reads back as it was before the attacks. */
  unchanged(what: string): Promise<void>;
}

/**
 * Every attack on one delivery route: without the right identity (401, or 403 for a valid token of someone who
 * delivers nothing there), then, when `signatures`, with the delivering identity's valid token but no genuine
 * signature (403 event_refused). After each, nothing changed.
 */
async function attackDelivery(arena: Arena, label: string, event: CloudEvent, at: Where, signatures: boolean) {
  const attack = async (what: string, forged: CloudEvent, token: string | undefined, status: number) => {
    const answer = await arena.post(forged, token);
    expect(answer.status, `${label}: ${what}: ${answer.body}`).toBe(status);
    if (status === 403 && what !== "not a delivering Trigger")
      expect(answer.body, `${label}: ${what}`).toContain("event_refused");
    await arena.unchanged(`${label}: ${what}`);
  };
  await attack("no credentials", event, undefined, 401);
  await attack("wrong audience", event, await arena.mint(arena.sender, arena.otherAudience), 401);
  await attack("expired", event, await arena.mint(arena.sender, arena.audience, -120), 401);
  // A valid token of someone who does not deliver here (any workload can get one for this audience).
  const intruder = await arena.mint(`system:serviceaccount:${NAMESPACE}:intruder`, arena.audience);
  await attack("not a delivering Trigger", event, intruder, 403);
  const { allowed, forbidden } = roles(event);
  // A PingSource tick: Knative cannot sign it; see the heartbeat test.
  if (!signatures || allowed === undefined) return;
  const token = await arena.mint(arena.sender, arena.audience);
  const type = event.attributes.type as EventType;
  await attack("unsigned", event, token, 403);
  await attack(`signed by ${forbidden}`, signAs(forbidden, event), token, 403);
  // A genuine signature, captured from another run's event, moved onto this one.
  const captured = signAs(allowed, sample(type, elsewhere(`genuine-other-${type}`, at)));
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

/**
 * Where each attack is posted: "on knclaw dev", every function mounted in the dev process and reached on the dev port;
 * "each function served alone", every function its own process (its main.ts, `--processes`) on its own loopback port,
 * posted to directly, as a pod would be reached past the broker.
 */
const MODES = [
  { name: "on knclaw dev", processes: false },
  { name: "each function served alone", processes: true },
] as const;

for (const mode of MODES) {
  describe(`forgery, ${mode.name}: every delivery route of the platform x every attack`, () => {
    let dev: DevRuntime;
    let fakes: ChatFakes;
    let routes: Route[];
    let memory: MemoryClient;
    /** The run held for an approval that every forged event is about. */
    let held: { runId: string; callId: string; approvalId: string; digest: string };

    const gateway = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${dev.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" },
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const deadLetters = async () => {
      const response = await fetch(`${dev.url}/functions/deadletter/v1/deadletters`, {
        headers: { authorization: `Bearer ${DEADLETTER_TOKEN}` },
      });
      return ((await response.json()) as { deadLetters: Array<{ id: string }> }).deadLetters.map((d) => d.id).sort();
    };

    /**
     * Everything a forgery could change, read back through the public APIs: the held run and its approval as the
     * gateway tells them, every run document of the instance (id, version, status) as the memory service keeps them,
     * the dead letters, and every call each platform's fake took.
     */
    const state = async () => {
      const [run, approval, runs, dead] = await Promise.all([
        gateway(`/api/v1/runs/${held.runId}`),
        gateway(`/api/v1/approvals/${held.approvalId}`),
        memory.listRuns("ops", { limit: 200 }),
        deadLetters(),
      ]);
      return {
        run,
        approval,
        runs: runs.runs.map((r) => ({ id: r.id, version: r.version, status: r.status })),
        dead,
        platforms: Object.fromEntries(Object.entries(fakes).map(([name, fake]) => [name, fake.accepted.length])),
      };
    };

    const urlOf = (fn: string) => {
      const found = dev.functions.find((f) => f.name === fn);
      if (found === undefined)
        throw new Error(`${fn} is not running: ${dev.functions.map((f) => f.name)} ${dev.skippedServices}`);
      return mode.processes ? found.mounted.childUrl! : found.localUrl;
    };
    const post = async (fn: string, event: CloudEvent, token?: string) => {
      const { headers, body } = encodeBinary(event);
      const response = await fetch(`${urlOf(fn)}/`, {
        method: "POST",
        headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: body as Uint8Array<ArrayBuffer>,
      });
      return { status: response.status, body: await response.text() };
    };
    const mint = async (subject: string, audience: string, lifetimeSeconds?: number) =>
      (await dev.oidc!.issuer.mint(subject, audience, lifetimeSeconds)).token;

    beforeAll(async () => {
      fakes = {
        slack: await new FakeSlack().start(),
        telegram: await new FakeTelegram().start(),
        discord: await new FakeDiscord().start(),
        whatsapp: await new FakeWhatsApp().start(),
      };
      const objects = platform(fakes);
      routes = routesOf(objects.filter((o) => o.kind === "Trigger"));
      dev = await startDev({
        objects,
        port: 0,
        schedulePings: false,
        drainTimeoutMs: 5_000,
        processes: mode.processes,
        env: {
          SLACK_SIGNING: SLACK_SECRET,
          SLACK_BOT: fakes.slack.token,
          TELEGRAM_BOT: fakes.telegram.token,
          TELEGRAM_HOOK: "telegram-hook-secret-forgery",
          DISCORD_BOT: fakes.discord.botToken,
          WHATSAPP_APP: "whatsapp-app-secret-forgery",
          WHATSAPP_ACCESS: fakes.whatsapp.accessToken,
          WHATSAPP_VERIFY: "whatsapp-verify-forgery",
          HOOKS_SIGNING: "hooks-signing-secret-forgery",
          GATEWAY_CLI: GATEWAY_TOKEN,
          KNCLAW_DEADLETTER_API_TOKEN: DEADLETTER_TOKEN,
          [memorySecretEnv(objects)]: MEMORY_SECRET,
          // The platform's own signing keys (Secrets knclaw-event-keys, knclaw-agent-keys), known to the attacker here.
          KNCLAW_AGENT_KEYS_OPS: roleKeys("agent/ops").privateKeyPem,
          ...Object.fromEntries(
            PLATFORM_ROLES.filter((role) => !role.startsWith("agent/")).map((role) => [
              `KNCLAW_EVENT_KEYS_${upperSnake(role)}`,
              roleKeys(role).privateKeyPem,
            ]),
          ),
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
    }, 240_000);

    afterAll(async () => {
      await dev?.shutdown();
      await Promise.all(Object.values(fakes ?? {}).map((fake) => fake.stop()));
    });

    it("has a route for every type of the catalog, and every consumer function among them", () => {
      expect(TYPES.sort()).toEqual(Object.keys(SAMPLES).sort());
      expect([...new Set(routes.map((route) => route.type))].sort()).toEqual([...TYPES].sort());
      const consumers = new Set(routes.map((route) => route.fn));
      for (const fn of [
        "agent-ops",
        "gateway",
        ...CHATS.map((c) => `channel-${c}`),
        ...SKILLS.map((s) => `skill-${s}`),
      ])
        expect(consumers.has(fn), fn).toBe(true);
    });

    /** A function of this platform as the attacks see it, and the state it must leave as it was. */
    const arenaOf = async (fn: string, trigger: string): Promise<Arena> => {
      await dev.idle();
      const before = await state();
      const accepted = dev.counters.accepted;
      return {
        post: (event, token) => post(fn, event, token),
        mint,
        audience: audienceOf(fn),
        otherAudience: audienceOf(dev.functions.find((f) => f.name !== fn)!.name),
        sender: identityOf(trigger),
        async unchanged(what) {
          expect(await state(), `${what}: state read back`).toEqual(before);
          expect(dev.counters.accepted, `${what}: nothing entered the broker`).toBe(accepted);
        },
      };
    };

    it("every route: refused without the delivering Trigger's valid token or a genuine signature; nothing changes", async () => {
      for (const route of routes) {
        const { trigger, fn, type, at } = route;
        const event = sample(type, { ...held, ...at });
        expect(matches(route, event), `${trigger} takes the sample`).toBe(true);
        await attackDelivery(await arenaOf(fn, trigger), `${fn} (${type})`, event, at, true);
      }
    });

    it("the dead-letter sink takes a delivery only with a Trigger's token for its audience", async () => {
      // It keeps what the broker could not deliver exactly as it came, signature included (a replay is checked by its
      // consumer), so only who delivers is at stake here.
      const event = signAs("agent/ops", sample(T.MESSAGE_SEND, elsewhere("dl")));
      await attackDelivery(await arenaOf("deadletter", routes[0]!.trigger), "deadletter", event, routes[0]!.at, false);
    });

    it("a function no Trigger delivers to (the webhook adapter) takes no forged event either", async () => {
      const at: Where = { channel: "slack", skill: "time", wakes: "agent" };
      const arena = await arenaOf("channel-webhook", routes[0]!.trigger);
      await attackDelivery(
        arena,
        "channel-webhook (run.requested)",
        sample(T.RUN_REQUESTED, { ...held, ...at }),
        at,
        true,
      );
    });

    it("every type: a genuine event replayed to its functions changes nothing the first delivery did not", async () => {
      for (const type of TYPES) {
        // About a run of its own, so what the first delivery does (start a run, post, ...) leaves the held run alone.
        // A replayed step may send its events again, under the same ids (ARCHITECTURE.md, Events): what they would do
        // is what is compared, not how many the broker took.
        const event = sample(type, elsewhere(`replayed-${type}`));
        const { allowed } = roles(event);
        const genuine = allowed === undefined ? event : signAs(allowed, event);
        const deliverAll = async () => {
          for (const { trigger, fn } of routes.filter((route) => matches(route, genuine))) {
            const answer = await post(fn, genuine, await mint(identityOf(trigger), audienceOf(fn)));
            expect(answer.status, `${type} to ${fn}: ${answer.body}`).toBeLessThan(500);
          }
          await dev.idle();
          return state();
        };
        const first = await deliverAll();
        expect(await deliverAll(), `${type}: the replay`).toEqual(first);
      }
    });

    it("a heartbeat (unsigned: Knative's PingSource cannot sign) fires no schedule the agent is not configured with", async () => {
      const tick = routes.find((route) => route.type === T.PING)!;
      const event = withAttributes(sample(T.PING, elsewhere("tick")), { knclawschedule: "not-configured" });
      // With its Trigger's valid token, what protects it is the agent's own rule: only a configured schedule fires,
      // with its configured task (test/functions/agent/loop-schedules.test.ts); this schedule is not configured.
      await dev.idle();
      const before = await state();
      const answer = await post(tick.fn, event, await mint(identityOf(tick.trigger), audienceOf(tick.fn)));
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
}

/**
 * The kubernetes skill cannot run under knclaw dev (it needs a Kubernetes API, which knclaw dev has no way to give it),
 * so it is attacked served alone: its createApp over real HTTP, with the delivery audience and sender the renderer
 * configures, against a fake API server that records every request. Every attack on its one route (tool.requested)
 * is refused and reaches no Kubernetes API.
 */
describe("forgery, the kubernetes skill served alone", () => {
  const SENDER = identityOf("skill-kubernetes");
  let issuer: FakeIssuer;
  let kube: FakeKubernetes;
  let skill: Served;

  beforeAll(async () => {
    issuer = await startFakeIssuer();
    kube = await startFakeKubernetes();
    const app = await createKubernetesApp({
      KNCLAW_KUBECONFIG: kube.kubeconfig("skill-token"),
      KNCLAW_NAMESPACE: NAMESPACE,
      KNCLAW_AGENT_KEYS: JSON.stringify({ ops: roleKeys("agent/ops").publicKeyPem }),
      ...eventKeysEnv("skill/kubernetes", PLATFORM_ROLES),
      KNCLAW_DELIVERY_AUDIENCE: audienceOf("skill-kubernetes"),
      KNCLAW_DELIVERY_SENDERS: SENDER,
      KNCLAW_OIDC_ISSUER: issuer.url,
      NODE_ENV: "test",
    });
    skill = await serve(app, { port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await skill?.shutdown();
    await kube?.close();
    await issuer?.close();
  });

  it("tool.requested: refused without the delivering Trigger's valid token or a genuine signature; no API call", async () => {
    const at: Where = { channel: "slack", skill: "kubernetes", wakes: "agent" };
    const requests = kube.requests.length;
    const arena: Arena = {
      async post(event, token) {
        const { headers, body } = encodeBinary(event);
        const response = await fetch(`${skill.url}/`, {
          method: "POST",
          headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
          body: body as Uint8Array<ArrayBuffer>,
        });
        return { status: response.status, body: await response.text() };
      },
      mint: (subject, audience, lifetimeSeconds) =>
        issuer.token({ subject, audience, ...(lifetimeSeconds !== undefined ? { expiresIn: lifetimeSeconds } : {}) }),
      audience: audienceOf("skill-kubernetes"),
      otherAudience: audienceOf("skill-time"),
      sender: SENDER,
      async unchanged(what) {
        expect(kube.requests.length, `${what}: no Kubernetes API call`).toBe(requests);
      },
    };
    await attackDelivery(
      arena,
      "skill-kubernetes (tool.requested)",
      sample(T.TOOL_REQUESTED, elsewhere("k8s", at)),
      at,
      true,
    );
  });
});
