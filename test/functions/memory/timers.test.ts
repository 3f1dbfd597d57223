import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArmTimerResponse, Timer } from "../../../clients/memory/contract/timers.ts";
import type { MemoryScope } from "../../../clients/memory/tokens.ts";
import { derivedEventId } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny } from "../../../eventing/cloudevent/http-codec.ts";
import { verifyEventSignature } from "../../../eventing/trust/event-signature.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { openEmbeddedStores } from "../../../functions/memory/embedded/stores.ts";
import { openRedisStores } from "../../../functions/memory/redis/stores.ts";
import type { MemoryStores } from "../../../functions/memory/stores.ts";
import { CLAIM_LEASE_MS } from "../../../functions/memory/timers/poller.ts";
import { type Received, receivedAttributes, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { roleKeys, trustBundle } from "../../support/event-keys.ts";
import {
  freshInstance,
  instanceScope,
  type MemoryHarness,
  OPERATOR,
  startMemory,
  TEST_LIMITS,
  TestClock,
} from "./support/harness.ts";
import { TARGETS } from "./support/targets.ts";

/**
 * Due-time timers on every backend: arming, moving and disarming through the API (and who may), and firing: the
 * service emits each due timer's timer.fired to its broker (here a subscriber standing in for the broker ingress)
 * once per due time, with an id derived from the timer and the due time. The services here poll only when the test
 * says (a one-minute poll period), on a clock the test moves.
 */
const MINUTE = 60_000;

interface Fired {
  event: CloudEvent;
  attributes: Record<string, unknown>;
  data: Record<string, unknown>;
}

function fired(request: Received): Fired {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string") headers.set(name, value);
  return {
    event: decodeMessageIfAny(headers, new Uint8Array(request.body))!,
    attributes: receivedAttributes(request),
    data: JSON.parse(request.body.toString("utf8")) as Record<string, unknown>,
  };
}

/** The stores a service on this environment runs on, opened beside it (as another process would). */
async function openStoresOf(env: Record<string, string>, now: () => number): Promise<MemoryStores> {
  if (env.KNCLAW_REDIS_URL === undefined) {
    return openEmbeddedStores(now, { path: env.KNCLAW_MEMORY_EMBEDDED_PATH, maxFinishedRuns: 100 });
  }
  const stores = openRedisStores({
    url: env.KNCLAW_REDIS_URL,
    keyPrefix: env.KNCLAW_REDIS_KEY_PREFIX!,
    cluster: env.KNCLAW_MEMORY_REDIS_CLUSTER === "true",
    commandTimeoutMs: 2_000,
  });
  await stores.waitUntilReady(5_000);
  return stores;
}

describe.each(TARGETS)("timers on $name", (target) => {
  let h: MemoryHarness;
  let broker: Subscriber;
  let teardown: () => Promise<void>;
  const clock = new TestClock();
  let env: Record<string, string>;

  beforeAll(async () => {
    const opened = await target.open();
    teardown = opened.teardown;
    broker = await startSubscriber(() => ({ status: 202 }));
    env = {
      ...TEST_LIMITS,
      ...opened.env,
      K_SINK: broker.url,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys("memory").privateKeyPem,
      KNCLAW_MEMORY_TIMER_POLL_MS: String(MINUTE),
      KNCLAW_MEMORY_MAX_TIMERS_PER_INSTANCE: "3",
    };
    h = await startMemory(env, { now: clock.now });
  });
  afterAll(async () => {
    await h?.close();
    await broker?.close();
    await teardown?.();
  });

  /** Poll once; the events the broker got during the poll (a poll resolves only after the broker accepted them). */
  async function poll(service: MemoryHarness = h): Promise<Fired[]> {
    const before = broker.received.length;
    await service.app.timers!.poll();
    return broker.received.slice(before).map(fired);
  }

  const ofInstance = (events: Fired[], instance: string) =>
    events.filter((event) => event.attributes.knclawinstance === instance);

  it("arms, reads, moves and disarms a timer; a timer gone is a 404 and disarming it again says so", async () => {
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const name = { instance, target: "agent" as const, kind: "deadline", id: "run-1" };
    const dueAt = clock.now() + MINUTE;
    const armed = ArmTimerResponse.parse(await client.armTimer(name, { dueAt, version: 1, data: { step: 1 } }));
    expect(armed).toEqual({
      armed: true,
      timer: { instance, target: "agent", kind: "deadline", id: "run-1", dueAt, version: 1, data: { step: 1 } },
    });
    expect(Timer.parse(await client.getTimer(name))).toEqual(armed.timer);
    await client.armTimer(name, { dueAt: dueAt + MINUTE, version: 2 });
    expect(await client.getTimer(name)).toEqual({ ...name, dueAt: dueAt + MINUTE, version: 2 });
    expect(await client.disarmTimer(name)).toBe(true);
    expect(await client.getTimer(name)).toBeUndefined();
    expect(await client.disarmTimer(name)).toBe(false);
  });

  it("does not let an arm from an older version move a newer one", async () => {
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const name = { instance, target: "agent" as const, kind: "deadline", id: "run-1" };
    const dueAt = clock.now() + MINUTE;
    await client.armTimer(name, { dueAt, version: 5 });
    const late = await client.armTimer(name, { dueAt: dueAt - 30_000, version: 4 });
    expect(late).toEqual({ armed: false, timer: { ...name, dueAt, version: 5 } });
    expect((await client.armTimer(name, { dueAt: dueAt + 1, version: 5 })).armed).toBe(true);
    // Unversioned arms always apply.
    expect((await client.armTimer(name, { dueAt })).armed).toBe(true);
    await client.disarmTimer(name);
  });

  it("caps the timers of one instance, counting each timer once however often it is armed", async () => {
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const name = (id: string) => ({ instance, target: "agent" as const, kind: "deadline", id });
    const dueAt = clock.now() + 10 * MINUTE;
    for (const id of ["a", "b", "c"]) await client.armTimer(name(id), { dueAt });
    await client.armTimer(name("a"), { dueAt: dueAt + 1 });
    const over = await h.raw(`/v1/instances/${instance}/timers/agent/deadline/d`, {
      method: "PUT",
      scope: instanceScope(instance),
      json: { dueAt },
    });
    expect(over.status).toBe(409);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("cap_exceeded");
    await client.disarmTimer(name("b"));
    expect((await client.armTimer(name("d"), { dueAt })).armed).toBe(true);
    // Another instance has its own room.
    const other = freshInstance();
    expect((await h.client(instanceScope(other)).armTimer({ ...name("a"), instance: other }, { dueAt })).armed).toBe(
      true,
    );
    for (const id of ["a", "c", "d"]) await client.disarmTimer(name(id));
    await h.client(instanceScope(other)).disarmTimer({ ...name("a"), instance: other });
  });

  it("lets an agent arm only its own instance's agent timers, and the gateway only gateway timers", async () => {
    const instance = freshInstance();
    const path = (target: string, owner = instance) => `/v1/instances/${owner}/timers/${target}/redrive/run-1`;
    const arm = (scope: MemoryScope | undefined, url: string) =>
      h.raw(url, { method: "PUT", ...(scope ? { scope } : {}), json: { dueAt: clock.now() + MINUTE } });
    expect((await arm(undefined, path("agent"))).status).toBe(401);
    expect((await arm(instanceScope("someone-else"), path("agent"))).status).toBe(403);
    expect((await arm(instanceScope(instance), path("gateway"))).status).toBe(403);
    expect((await arm({ kind: "gateway" }, path("agent"))).status).toBe(403);
    expect((await arm({ kind: "channel", name: "slack" }, path("agent"))).status).toBe(403);
    expect((await arm({ kind: "channel", name: "slack" }, path("gateway"))).status).toBe(403);
    expect((await arm({ kind: "deadletter" }, path("gateway"))).status).toBe(403);
    expect((await arm(instanceScope(instance), path("agent"))).status).toBe(200);
    expect((await arm({ kind: "gateway" }, path("gateway"))).status).toBe(200);
    expect((await arm({ kind: "gateway" }, path("gateway", freshInstance()))).status).toBe(200);
    expect((await arm(OPERATOR, path("gateway"))).status).toBe(200);
    // Reading and disarming follow the same rule.
    expect((await h.raw(path("gateway"), { scope: instanceScope(instance) })).status).toBe(403);
    expect((await h.raw(path("agent"), { method: "DELETE", scope: { kind: "gateway" } })).status).toBe(403);
    expect((await h.raw(path("agent"), { method: "DELETE", scope: instanceScope(instance) })).status).toBe(200);
    expect((await h.raw(path("gateway"), { method: "DELETE", scope: { kind: "gateway" } })).status).toBe(200);
  });

  it.each([
    ["an unknown target", "/timers/skill/deadline/run-1", { dueAt: 1 }, "params.target"],
    ["a kind with capitals", "/timers/agent/Deadline/run-1", { dueAt: 1 }, "params.kind"],
    ["an id with a space", "/timers/agent/deadline/run%201", { dueAt: 1 }, "params.id"],
    ["no due time", "/timers/agent/deadline/run-1", {}, "dueAt"],
    ["a negative due time", "/timers/agent/deadline/run-1", { dueAt: -5 }, "dueAt"],
    ["an unknown field", "/timers/agent/deadline/run-1", { dueAt: 1, repeat: true }, ""],
    ["data that is no object", "/timers/agent/deadline/run-1", { dueAt: 1, data: [1] }, "data"],
    ["data over 4 KiB", "/timers/agent/deadline/run-1", { dueAt: 1, data: { x: "y".repeat(5000) } }, "data"],
    ["a malformed traceparent", "/timers/agent/deadline/run-1", { dueAt: 1, traceparent: "00-x" }, "traceparent"],
  ])("refuses %s with 400 and arms nothing", async (_what, path, json, field) => {
    const instance = freshInstance();
    const response = await h.raw(`/v1/instances/${instance}${path}`, {
      method: "PUT",
      scope: instanceScope(instance),
      json,
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: Array<{ path: string }> } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.issues.map((issue) => issue.path).join(" ")).toContain(field);
    expect(ofInstance(await poll(), instance)).toEqual([]);
  });

  it("fires each timer once it is due, not before, once, with the timer's own event", async () => {
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const base = clock.now();
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await client.armTimer(
      { instance, target: "agent", kind: "deadline", id: "run-a" },
      { dueAt: base + MINUTE, data: { note: "first" }, traceparent },
    );
    await client.armTimer({ instance, target: "agent", kind: "deadline", id: "run-b" }, { dueAt: base + 2 * MINUTE });
    await h
      .client({ kind: "gateway" })
      .armTimer({ instance, target: "gateway", kind: "redrive", id: "run-a" }, { dueAt: base + MINUTE });

    clock.advance(MINUTE - 1_000);
    expect(ofInstance(await poll(), instance)).toEqual([]);

    clock.advance(1_000);
    const first = ofInstance(await poll(), instance);
    expect(first.map((event) => `${event.data.target}/${event.data.id}`).sort()).toEqual([
      "agent/run-a",
      "gateway/run-a",
    ]);
    const agentEvent = first.find((event) => event.data.target === "agent")!;
    expect(agentEvent.attributes).toMatchObject({
      specversion: "1.0",
      type: T.TIMER_FIRED,
      source: "/knclaw/memory",
      id: derivedEventId("timer", "agent", instance, "deadline", "run-a", base + MINUTE),
      knclawinstance: instance,
      knclawtarget: "agent",
      traceparent: expect.stringMatching(/^00-0af7651916cd43dd8448eb211c80319c-/),
    });
    expect(agentEvent.data).toEqual({
      instance,
      target: "agent",
      kind: "deadline",
      id: "run-a",
      dueAt: new Date(base + MINUTE).toISOString(),
      data: { note: "first" },
    });
    expect(first.find((event) => event.data.target === "gateway")!.attributes.knclawtarget).toBe("gateway");
    // Signed as the memory service, the one producer consumers take timer.fired from.
    const trusted = parseTrustBundle(trustBundle(["memory"]), "the test bundle");
    for (const event of first) expect(verifyEventSignature(event.event, trusted)).toEqual({ ok: true, role: "memory" });
    // Fired timers are gone: the next poll fires nothing of them.
    expect(ofInstance(await poll(), instance)).toEqual([]);
    expect(await client.getTimer({ instance, target: "agent", kind: "deadline", id: "run-a" })).toBeUndefined();

    clock.advance(MINUTE);
    expect(ofInstance(await poll(), instance).map((event) => event.data.id)).toEqual(["run-b"]);
  });

  it("refuses to start with a broker to fire into but no key to sign with", async () => {
    const { KNCLAW_EVENT_SIGNING_KEY: _key, ...unsigned } = env;
    await expect(startMemory(unsigned, { now: clock.now })).rejects.toThrow(/KNCLAW_EVENT_SIGNING_KEY is required/);
  });

  it("fires a timer whose due time is already past at the next poll", async () => {
    const instance = freshInstance();
    await h
      .client(instanceScope(instance))
      .armTimer({ instance, target: "agent", kind: "deadline", id: "late" }, { dueAt: clock.now() - 5 * MINUTE });
    expect(ofInstance(await poll(), instance).map((event) => event.data.id)).toEqual(["late"]);
  });

  it("keeps a timer whose event the broker did not take, and fires it again with the same id after its claim", async () => {
    const instance = freshInstance();
    await h
      .client(instanceScope(instance))
      .armTimer({ instance, target: "agent", kind: "deadline", id: "run-x" }, { dueAt: clock.now() });
    broker.respond(() => ({ status: 500 }));
    try {
      expect(ofInstance(await poll(), instance).length).toBeGreaterThan(0);
    } finally {
      broker.respond(() => ({ status: 202 }));
    }
    const refused = ofInstance(broker.received.map(fired), instance);
    // Claimed by the failed poll: no other poll fires it before the claim runs out...
    expect(ofInstance(await poll(), instance)).toEqual([]);
    // ... and then it fires again, as the same event.
    clock.advance(MINUTE);
    const again = ofInstance(await poll(), instance);
    expect(again).toHaveLength(1);
    expect(again[0]!.attributes.id).toBe(refused[0]!.attributes.id);
    expect(ofInstance(await poll(), instance)).toEqual([]);
  });

  it("fires a timer re-armed while its event was on the way at its new time, not never", async () => {
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const name = { instance, target: "agent" as const, kind: "deadline", id: "run-r" };
    const first = clock.now();
    await client.armTimer(name, { dueAt: first });
    // The broker takes the event only after the timer was armed again (as the woken agent does).
    broker.respond(async (request) => {
      if (String(request.headers["ce-knclawinstance"]) === instance) {
        await client.armTimer(name, { dueAt: first + MINUTE });
      }
      return { status: 202 };
    });
    try {
      expect(ofInstance(await poll(), instance)).toHaveLength(1);
    } finally {
      broker.respond(() => ({ status: 202 }));
    }
    expect(await client.getTimer(name)).toEqual({ ...name, dueAt: first + MINUTE });
    clock.advance(MINUTE);
    const again = ofInstance(await poll(), instance);
    expect(again.map((event) => event.data.dueAt)).toEqual([new Date(first + MINUTE).toISOString()]);
  });

  // An embedded store in memory lives and dies with its process: what follows needs a store that outlives one.
  if (target.name === "embedded") return;

  it("fires a timer again, as the same event, when the poller that claimed it died before removing it", async () => {
    const instance = freshInstance();
    const dueAt = clock.now();
    await h
      .client(instanceScope(instance))
      .armTimer({ instance, target: "agent", kind: "deadline", id: "run-c" }, { dueAt });
    // A poller claims it (and may have emitted it), then dies: nothing removes it.
    const crashed = await openStoresOf(env, clock.now);
    try {
      const claimed = await crashed.timers.claimDue(clock.now(), clock.now() + CLAIM_LEASE_MS, 1_000);
      expect(claimed.map((claim) => claim.timer.instance)).toContain(instance);
    } finally {
      await crashed.close();
    }
    expect(ofInstance(await poll(), instance)).toEqual([]);
    clock.advance(CLAIM_LEASE_MS);
    const again = ofInstance(await poll(), instance);
    expect(again.map((event) => event.attributes.id)).toEqual([
      derivedEventId("timer", "agent", instance, "deadline", "run-c", dueAt),
    ]);
  });

  it("keeps armed timers across a restart of the service", async () => {
    const instance = freshInstance();
    await h
      .client(instanceScope(instance))
      .armTimer({ instance, target: "agent", kind: "deadline", id: "survivor" }, { dueAt: clock.now() + MINUTE });
    await h.close();
    h = await startMemory(env, { now: clock.now });
    clock.advance(MINUTE);
    expect(ofInstance(await poll(), instance).map((event) => event.data.id)).toEqual(["survivor"]);
  });

  // Replicas share Redis; the embedded store (on a file too) is one replica's.
  if (target.name === "embedded-file") return;

  it("fires each due timer once with two replicas polling the same store", async () => {
    const second = await startMemory(env, { now: clock.now });
    try {
      const instance = freshInstance();
      const client = h.client(OPERATOR);
      // 150 timers, 3 per instance (the cap here), more than one claim takes (100).
      const ids = Array.from({ length: 150 }, (_, i) => `run-${i}`);
      for (const [i, id] of ids.entries()) {
        await client.armTimer(
          { instance: `${instance}-${i % 50}`, target: "agent", kind: "deadline", id },
          {
            dueAt: clock.now(),
          },
        );
      }
      const before = broker.received.length;
      await Promise.all([h, second, h, second].map((service) => service.app.timers!.poll()));
      const events = broker.received
        .slice(before)
        .map(fired)
        .filter((event) => String(event.attributes.knclawinstance).startsWith(instance));
      expect(events.map((event) => event.data.id).sort()).toEqual([...ids].sort());
    } finally {
      await second.close();
    }
  });
});
