import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { eventually } from "../../functions/memory/support/harness.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { type OwnRedis, ownRedis } from "../../support/redis-server.ts";

/**
 * `knclaw dev --redis` with the memory service and the broker's journal on a Redis of the test's own, killed and
 * started again: every API answers 503 with Retry-After while it is down, and everything works again once it is back,
 * without a restart. Latency is not asserted here (the report measures it); a hang would fail on the fetch timeout.
 */
const GATEWAY_TOKEN = randomBytes(24).toString("base64url");
const MEMORY_SECRET = randomBytes(24).toString("base64url");
const HOOK_SECRET = "webhook-secret-for-the-outage-test";
/** Far longer than any answer takes: a request still open then is hanging, which is what this test rules out. */
const HANG_MS = 5_000;

let redis: OwnRedis;
let dev: DevRuntime;
let stateDir: string;
/** A Trigger's subscriber in front of the agent: holds a delivery until released, then hands it on and records the answer. */
let proxy: Subscriber;
let releaseDelivery!: () => void;
const delivered: Array<{ status: number; retryAfter: string | null }> = [];

function objects(proxyUrl: string): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 20, backoffPolicy: "linear", backoffDelay: "PT0.2S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    gateway: { tokens: { cli: { secret: "gateway", key: "cli" } }, maxWaitSeconds: 30 },
    policies: { default: {} },
    instances: {
      assistant: {
        model: "demo/echo",
        schedules: [{ name: "heartbeat", schedule: "0 0 1 1 *", task: "Heartbeat" }],
      },
    },
    channels: {
      webhook: {
        secrets: { signingSecret: { secret: "hooks", key: "signing" } },
        hooks: { alerts: { instance: "assistant", task: "Summarise {{alert}}" } },
      },
    },
  });
  const rendered = render(config) as unknown as KnativeObject[];
  // The heartbeat's ticks also go to the proxy, which hands them to the agent as the broker would.
  const trigger: KnativeObject = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "outage-proxy", namespace: "knclaw" },
    spec: {
      broker: "default",
      filter: { attributes: { type: "dev.knative.sources.ping", knclawinstance: "assistant" } },
      subscriber: { uri: `${proxyUrl}/` },
      delivery: { retry: 20, backoffPolicy: "linear", backoffDelay: "PT0.2S" },
    },
  } as KnativeObject;
  return [...rendered, trigger];
}

beforeAll(async () => {
  redis = await ownRedis(["--appendonly", "yes"]);
  stateDir = mkdtempSync(join(tmpdir(), "knclaw-outage-"));
  let gate = new Promise<void>((resolve) => {
    releaseDelivery = resolve;
  });
  proxy = await startSubscriber(async (request: Received) => {
    await gate;
    const answer = await forwardToAgent(request);
    delivered.push({ status: answer.status, retryAfter: answer.headers.get("retry-after") });
    // Once is enough to hold: every later attempt goes straight through.
    gate = Promise.resolve();
    return { status: answer.status, body: new Uint8Array(await answer.arrayBuffer()) };
  });
  dev = await startDev({
    objects: objects(proxy.url),
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    redisUrl: redis.url,
    brokerStore: { kind: "redis", url: redis.url, keyPrefix: `knclaw-outage:${randomBytes(4).toString("hex")}:` },
    env: { GATEWAY_CLI: GATEWAY_TOKEN, KNCLAW_MEMORY_TOKENS_SECRET: MEMORY_SECRET, HOOKS_SIGNING: HOOK_SECRET },
  });
}, 120_000);

afterAll(async () => {
  releaseDelivery?.();
  await dev?.shutdown();
  await proxy?.close();
  await redis?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The delivery as the broker made it, to the agent's own route. */
function forwardToAgent(request: Received): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string" && name !== "host" && name !== "content-length") headers.set(name, value);
  }
  return fetch(`${dev.url}/functions/agent-assistant/`, { method: "POST", headers, body: request.body });
}

const gateway = { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" };
const operator = { authorization: `Bearer ${mintMemoryToken(MEMORY_SECRET, { kind: "operator" })}` };

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${dev.url}${path}`, { ...init, signal: AbortSignal.timeout(HANG_MS) });
}

const startRun = (task: string) =>
  call("/api/v1/instances/assistant/runs", { method: "POST", headers: gateway, body: JSON.stringify({ task }) });

function signedHook(alert: string): RequestInit {
  const body = JSON.stringify({ alert });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac("sha256", HOOK_SECRET).update(`${timestamp}.${body}`).digest("hex");
  return {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-knclaw-timestamp": timestamp,
      "x-knclaw-signature": `sha256=${signature}`,
    },
    body,
  };
}

function brokerEvent(id: string): RequestInit {
  return {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/outage-test",
      "ce-type": "dev.knative.sources.ping",
      // Matches the agent's Triggers: the ingress must store it before it answers.
      "ce-knclawinstance": "assistant",
      "content-type": "application/json",
    },
    body: "{}",
  };
}

async function expectUnavailable(answer: Response): Promise<void> {
  expect({ url: answer.url, status: answer.status, retryAfter: answer.headers.get("retry-after") }).toEqual({
    url: answer.url,
    status: 503,
    retryAfter: "1",
  });
  await answer.arrayBuffer();
}

async function waitForOutcome(runId: string): Promise<string> {
  return eventually(async () => {
    const answer = await call(`/api/v1/runs/${runId}`, { headers: gateway });
    const { status } = (await answer.json()) as { status: string };
    return status === "completed" || status === "failed" ? status : undefined;
  }, 60_000);
}

describe("knclaw dev --redis while Redis is down", () => {
  it("answers 503 with Retry-After on every API, and resumes without a restart once Redis is back", async () => {
    const before = await startRun("before the outage");
    expect(before.status).toBe(202);
    const { runId } = (await before.json()) as { runId: string };
    expect(await waitForOutcome(runId)).toBe("completed");
    // A delivery accepted before the outage, held by the proxy until Redis is gone.
    await dev.pings.fire("knclaw", "agent-assistant-heartbeat");
    await proxy.waitFor(1);

    await redis.kill9();

    // The gateway's API (start and read a run) and its OpenAI-compatible endpoint.
    await expectUnavailable(await startRun("during the outage"));
    await expectUnavailable(await call(`/api/v1/runs/${runId}`, { headers: gateway }));
    await expectUnavailable(
      await call("/v1/chat/completions", {
        method: "POST",
        headers: gateway,
        body: JSON.stringify({ model: "knclaw:assistant", messages: [{ role: "user", content: "hi" }] }),
      }),
    );
    // The memory service itself, and its readiness.
    await expectUnavailable(
      await call(`/functions/memory/v1/instances/assistant/runs/${runId}`, { headers: operator }),
    );
    // Reads that pipeline several commands, whose failures come back per command rather than thrown.
    await expectUnavailable(await call("/functions/memory/v1/instances/assistant/runs", { headers: operator }));
    await expectUnavailable(
      await call("/functions/memory/v1/instances/assistant/notes/search", {
        method: "POST",
        headers: { ...operator, "content-type": "application/json" },
        body: JSON.stringify({ query: "milk" }),
      }),
    );
    expect((await call("/functions/memory/readyz")).status).toBe(503);
    // A channel's webhook (the signed generic webhook).
    await expectUnavailable(await call("/channels/webhook/alerts", signedHook("disk full")));
    // The broker's ingress: its journal is on the same Redis, so it cannot take the event.
    await expectUnavailable(await call("/knclaw/default", brokerEvent("during-outage")));
    // A broker delivery to a function (the agent, whose step needs the memory service).
    releaseDelivery();
    await eventually(async () => delivered.length > 0);
    expect(delivered[0]).toEqual({ status: 503, retryAfter: "1" });

    await redis.start();

    // Everything answers again: a new run is accepted and completes, the one before is still there.
    await eventually(async () => (await call("/functions/memory/readyz")).status === 200, 30_000);
    const after = await startRun("after the outage");
    expect(after.status).toBe(202);
    const { runId: afterId } = (await after.json()) as { runId: string };
    expect(await waitForOutcome(afterId)).toBe("completed");
    expect(await waitForOutcome(runId)).toBe("completed");
    expect((await call("/channels/webhook/alerts", signedHook("disk full again"))).status).toBe(202);
    expect((await call("/knclaw/default", brokerEvent("after-outage"))).status).toBe(202);
    // The held delivery, retried by the broker, now goes through.
    await eventually(async () => delivered.some((answer) => answer.status >= 200 && answer.status < 300), 30_000);
  });
});

describe("knclaw dev --redis while Redis hangs (SIGSTOP: connected, answering nothing)", () => {
  it("answers 503 with Retry-After instead of waiting (the ingress waited forever before the watchdog), and resumes", async () => {
    await eventually(async () => (await call("/functions/memory/readyz")).status === 200, 30_000);
    const before = await startRun("before the hang");
    expect(before.status).toBe(202);
    const { runId } = (await before.json()) as { runId: string };
    expect(await waitForOutcome(runId)).toBe("completed");

    redis.pause();
    try {
      await expectUnavailable(await startRun("during the hang"));
      await expectUnavailable(await call(`/api/v1/runs/${runId}`, { headers: gateway }));
      await expectUnavailable(
        await call(`/functions/memory/v1/instances/assistant/runs/${runId}`, { headers: operator }),
      );
      await expectUnavailable(await call("/channels/webhook/alerts", signedHook("disk hung")));
      await expectUnavailable(await call("/knclaw/default", brokerEvent("during-hang")));
    } finally {
      redis.resume();
    }

    await eventually(async () => (await call("/functions/memory/readyz")).status === 200, 30_000);
    const after = await startRun("after the hang");
    expect(after.status).toBe(202);
    const { runId: afterId } = (await after.json()) as { runId: string };
    expect(await waitForOutcome(afterId)).toBe("completed");
    expect((await call("/knclaw/default", brokerEvent("after-hang"))).status).toBe(202);
  });
});
