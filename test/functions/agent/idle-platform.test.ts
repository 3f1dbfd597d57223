import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import type { BrokerCounters } from "../../../eventing/broker/counters.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { devTrustEnv, signAs } from "../../support/event-keys.ts";

/**
 * An idle platform wakes no agent (issue 12): 200 agent instances on `knclaw dev`, from their rendered objects, no
 * heartbeats. Ten minutes pass on the clock every function decides with (the memory service's due timers included):
 * the broker delivers nothing to any agent. Then runs wait for approvals with two expiries; each approval expires,
 * woken by its own timer, when its time comes and not before, and nothing else wakes.
 *
 * The memory service polls its timers every 20 ms of real time here (a test-only setting in its rendered env); a probe
 * timer of an instance no agent has (caught by a Trigger of the test's own) shows a poll happened after a clock move.
 */
const INSTANCES = 200;
const WITH_RUNS = 40;
const MINUTE = 60_000;
const MEMORY_SECRET = randomBytes(24).toString("base64url");

let dev: DevRuntime;
let fake: FakeOpenAI;
let catcher: Subscriber;
let memory: MemoryClient;
/** Every function's clock: it stands still unless the test moves it. */
let now = Date.now();
const clock = () => now;

const names = Array.from({ length: INSTANCES }, (_, i) => `agent${String(i).padStart(3, "0")}`);
/** Half the instances with runs hold approvals for two minutes, the other half for five. */
const timeoutOf = (index: number) => (index % 2 === 0 ? 120 : 300);

function platformObjects(): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: { name: "default", deadLetterSink: { disabled: true } },
    memory: {},
    gateway: { enabled: false },
    policies: Object.fromEntries(
      [120, 300].map((seconds) => [
        `hold-${seconds}`,
        { approvals: { tools: ["ops.restart"], approvers: ["http:operator"], timeoutSeconds: seconds } },
      ]),
    ),
    skills: {
      // Never called: every call waits for an approval that never comes.
      ops: {
        external: {
          url: "http://127.0.0.1:9/never",
          tools: [
            {
              name: "restart",
              description: "Restart a service",
              parameters: { type: "object", properties: { service: { type: "string" } } },
              mutates: true,
            },
          ],
        },
      },
    },
    instances: Object.fromEntries(
      names.map((name, index) => [
        name,
        {
          model: "openai-compatible/gpt-test",
          provider: { baseUrl: fake.url },
          policy: `hold-${timeoutOf(index)}`,
          skills: ["ops"],
        },
      ]),
    ),
  });
  const objects = render(config) as unknown as KnativeObject[];
  // Test-only: the memory service looks for due timers every 20 ms instead of every second.
  const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "memory")!;
  const container = (service.spec as { template: { spec: { containers: Array<{ env: unknown[] }> } } }).template.spec
    .containers[0]!;
  container.env.push({ name: "KNCLAW_MEMORY_TIMER_POLL_MS", value: "20" });
  const catchAll = (name: string, attributes: Record<string, string>): KnativeObject => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name, namespace: "knclaw" },
    spec: { broker: "default", filter: { attributes }, subscriber: { uri: catcher.url } },
  });
  return [
    ...objects,
    catchAll("test-probe", { type: T.TIMER_FIRED, knclawinstance: "probe" }),
    catchAll("test-approval-requested", { type: T.APPROVAL_REQUESTED }),
    catchAll("test-approval-resolved", { type: T.APPROVAL_RESOLVED }),
  ];
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: "not-needed" });
  fake.setResponder((request) => {
    const messages = request.body.messages as Array<{ role: string; content?: string }>;
    if (!messages.some((m) => m.role === "tool")) {
      return { kind: "message", toolCalls: [{ id: "c1", name: "ops__restart", arguments: '{"service":"web"}' }] };
    }
    return { kind: "message", text: "not restarted" };
  });
  catcher = await startSubscriber(() => ({ status: 200 }));
  dev = await startDev({
    objects: platformObjects(),
    port: 0,
    schedulePings: true,
    clock,
    drainTimeoutMs: 5_000,
    env: { KNCLAW_MEMORY_TOKENS_SECRET: MEMORY_SECRET, ...devTrustEnv({ producers: ["gateway"] }) },
  });
  memory = new MemoryClient({
    baseUrl: "http://memory.knclaw.svc.cluster.local",
    token: mintMemoryToken(MEMORY_SECRET, { kind: "operator" }),
    fetch: dev.fetch,
  });
}, 300_000);

afterAll(async () => {
  await dev?.shutdown();
  await catcher?.close();
  await fake?.close();
});

const ofType = (type: string) => (request: Received) => request.headers["ce-type"] === type;
const body = (request: Received) => JSON.parse(request.body.toString("utf8")) as Record<string, unknown>;

let probes = 0;
async function probe(): Promise<void> {
  probes += 1;
  const id = `probe-${probes}`;
  await memory.armTimer({ instance: "probe", target: "agent", kind: "deadline", id }, { dueAt: now });
  await catcher.waitUntil((request) => ofType(T.TIMER_FIRED)(request) && body(request).id === id);
}

/** Probes each move of the clock costs: one event in and one delivery to the test's Trigger each. */
const PROBES_PER_MOVE = 2;

/**
 * Move every function's clock to `time`, then wait until everything that time made due has happened: a first probe
 * is fired by a poll on the new time; a second one, armed after the first arrived, by a later poll, which starts only
 * once the first poll's events were all accepted by the broker; then the broker has nothing pending.
 */
async function moveTo(time: number): Promise<void> {
  now = time;
  await probe();
  await probe();
  await dev.idle();
}

/** What the broker did since `before`, apart from the probe (one event in, one delivery to the test's Trigger). */
function since(before: BrokerCounters, probes: number): BrokerCounters {
  const now = dev.counters;
  const delta = Object.fromEntries(
    Object.entries(now).map(([key, value]) => [key, value - before[key as keyof BrokerCounters]]),
  ) as unknown as BrokerCounters;
  delta.accepted -= probes;
  delta.delivered -= probes;
  return delta;
}

const NOTHING: BrokerCounters = {
  accepted: 0,
  rejected: 0,
  unmatched: 0,
  delivered: 0,
  retried: 0,
  deadLettered: 0,
  dropped: 0,
  replies: 0,
};

describe("an idle platform", () => {
  it("renders no tick for instances without heartbeats, and delivers nothing to any of 200 agents in ten minutes", async () => {
    expect(dev.functions.filter((fn) => fn.name.startsWith("agent-"))).toHaveLength(INSTANCES);
    expect(dev.pingSources).toEqual([]);
    const before = dev.counters;
    for (let minute = 1; minute <= 10; minute++) await moveTo(now + MINUTE);
    expect(since(before, 10 * PROBES_PER_MOVE)).toEqual(NOTHING);
  });

  it("expires every pending approval when its own time comes, woken by its timer and nothing else", async () => {
    const started = now;
    for (const name of names.slice(0, WITH_RUNS)) {
      const event = makeEvent(T.RUN_REQUESTED, {
        source: "/knclaw/gateway",
        data: {
          instance: name,
          runId: `hold-${name}`,
          task: "restart web",
          requestedBy: { channel: "http", id: "operator" },
          replyTo: { channel: "http", conversation: `hold-${name}` },
        },
      });
      const { headers, body: bytes } = encodeEvent(signAs("gateway", event), "binary");
      const answer = await fetch(dev.brokers[0]!.url, {
        method: "POST",
        headers,
        body: bytes as ConstructorParameters<typeof Response>[0],
      });
      expect(answer.status).toBe(202);
    }
    const requested = await waitForCount(T.APPROVAL_REQUESTED, WITH_RUNS);
    await dev.idle();
    const expiries = new Map(
      requested.map((request) => {
        const data = body(request) as { runId: string; expiresAt: string };
        return [data.runId, Date.parse(data.expiresAt)];
      }),
    );
    for (const [index, name] of names.slice(0, WITH_RUNS).entries()) {
      expect(expiries.get(`hold-${name}`)).toBe(started + timeoutOf(index) * 1000);
    }

    const runsWith = (seconds: number) =>
      names
        .slice(0, WITH_RUNS)
        .filter((_, index) => timeoutOf(index) === seconds)
        .map((name) => `hold-${name}`)
        .sort();

    // At the expiry itself nothing is due yet (an approval expires once the time is past): no agent wakes.
    let before = dev.counters;
    await moveTo(started + 120_000);
    expect(since(before, PROBES_PER_MOVE)).toEqual(NOTHING);
    expect(resolved().size).toBe(0);

    // A millisecond later the two-minute approvals expire, each once, and only they.
    await moveTo(started + 120_001);
    expect([...resolved().keys()].sort()).toEqual(runsWith(120));
    before = dev.counters;
    await moveTo(started + 300_000);
    expect(since(before, PROBES_PER_MOVE)).toEqual(NOTHING);
    await moveTo(started + 300_001);
    const all = resolved();
    expect([...all.keys()].sort()).toEqual([...runsWith(120), ...runsWith(300)].sort());
    expect([...all.values()].every((outcomes) => outcomes.join() === "expired")).toBe(true);

    // Every run has ended (the model was told the call was refused): no timer is left to wake anyone.
    before = dev.counters;
    await moveTo(now + 60 * MINUTE);
    expect(since(before, PROBES_PER_MOVE)).toEqual(NOTHING);
  });
});

/** approval.resolved outcomes by run, as the test's Trigger saw them. */
function resolved(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const request of catcher.received.filter(ofType(T.APPROVAL_RESOLVED))) {
    const data = body(request) as { runId: string; outcome: string };
    out.set(data.runId, [...(out.get(data.runId) ?? []), data.outcome]);
  }
  return out;
}

async function waitForCount(type: string, count: number): Promise<Received[]> {
  for (;;) {
    const matching = catcher.received.filter(ofType(type));
    if (matching.length >= count) return matching;
    await catcher.waitUntil((request) => ofType(type)(request) && !matching.includes(request));
  }
}
