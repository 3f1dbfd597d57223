import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, InvalidObjectsError } from "../../../cli/dev/start-dev.ts";
import {
  brokerWithTrigger,
  eventId,
  postBinary,
  type Subscriber,
  startSubscriber,
  startTestRuntime,
} from "../../support/dev-platform.ts";

const PROBE_SERVICE = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: probe
  namespace: test
  labels: { knclaw.dev/component: probe }
  annotations:
    knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts
    knclaw.dev/dev-path-prefix: /api/v1
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/knclaw/knclaw:test
          env:
            - { name: GREETING, value: hello }
            - { name: PEER_URL, value: "http://probe.test.svc.cluster.local/env" }
            - { name: NAMESPACE, value: test }
            - { name: API_TOKEN, valueFrom: { secretKeyRef: { name: probe-secrets, key: api-token } } }`;

function platform(subscriber: string): string {
  return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
${PROBE_SERVICE}
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: { name: probe-sink, namespace: test }
spec:
  subject: { apiVersion: serving.knative.dev/v1, kind: Service, name: probe }
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }
  ceOverrides: { extensions: { knclawinstance: probe } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-probe, namespace: test }
spec:
  broker: default
  filters: [ { prefix: { type: "probe." } }, { not: { exact: { type: probe.emitted } } } ]
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: probe } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: emitted, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: probe.emitted } }
  subscriber: { uri: "${subscriber}" }`;
}

describe("knclaw dev runtime: functions", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;

  beforeAll(async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(platform(subscriber.url), { env: { PROBE_SECRETS_API_TOKEN: "s3cret" } });
  });
  afterAll(async () => {
    await runtime.shutdown();
    await subscriber.close();
  });

  it("a Trigger whose subscriber is a ksvc ref delivers to the function mounted in-process", async () => {
    expect((await postBinary(`${runtime.url}/test/default`, { id: "to-fn", type: "probe.hello" })).status).toBe(202);
    await runtime.idle();
    const events = (await (await runtime.fetch("http://probe.test.svc.cluster.local/events")).json()) as Array<{
      id: string;
    }>;
    expect(events.map((e) => e.id)).toContain("to-fn");
    expect(runtime.counters.delivered).toBeGreaterThanOrEqual(1);
  });

  it("the function is reachable at its cluster URL in-process and at /functions/<ksvc>/ and its declared prefix on the port", async () => {
    const viaFetch = await runtime.fetch("http://probe.test.svc.cluster.local/env");
    expect(viaFetch.status).toBe(200);
    const viaPort = await fetch(`${runtime.url}/functions/probe/env`);
    expect(((await viaPort.json()) as { GREETING: string }).GREETING).toBe("hello");
    const viaPrefix = await fetch(`${runtime.url}/api/v1/things?x=1`);
    expect(await viaPrefix.json()).toEqual({ path: "/api/v1/things", method: "GET" });
    expect((await fetch(`${runtime.url}/functions/probe/healthz`)).status).toBe(200);
  });

  it("the function gets its container env, the Serving variables, K_SINK from its SinkBinding and resolved secrets", async () => {
    const env = (await (await fetch(`${runtime.url}/functions/probe/env`)).json()) as Record<string, string>;
    expect(env.K_SINK).toBe(`${runtime.url}/test/default`);
    expect(JSON.parse(env.K_CE_OVERRIDES!)).toEqual({ extensions: { knclawinstance: "probe" } });
    expect(env.K_SERVICE).toBe("probe");
    expect(env.K_REVISION).toBe("probe-00001");
    expect(env.NAMESPACE).toBe("test");
    expect(env.PEER_URL).toBe(`${runtime.url}/functions/probe/env`);
    expect(env.API_TOKEN).toBe("(set)");
  });

  it("events a function emits to K_SINK enter the broker and reach their Triggers", async () => {
    await postBinary(`${runtime.url}/test/default`, { id: "emit-1", type: "probe.emit" });
    const got = await subscriber.waitForEvent("emit-1-emitted");
    expect(got.headers["ce-source"]).toBe("/probe");
    expect(got.headers["ce-knclawinstance"]).toBe("probe");
  });

  it("a cluster URL of a Service that does not run here fails like an unreachable host", async () => {
    await expect(runtime.fetch("http://nothing.test.svc.cluster.local/")).rejects.toThrow(/no Service test\/nothing/);
  });
});

describe("knclaw dev runtime: --manifests and refusal to start", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  function manifestsDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-manifests-"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it("loads Brokers, Triggers to any http URL and PingSources from --manifests", async () => {
    const sub = await startSubscriber();
    cleanup.push(() => sub.close());
    const dir = manifestsDir({
      "broker.yaml": "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: mine, namespace: team }\n",
      "trigger.yml": `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: mine, namespace: team }\nspec:\n  broker: mine\n  subscriber: { uri: "${sub.url}/hook" }\n`,
      "ping.yaml": `apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: { name: tick, namespace: team }\nspec:\n  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: mine } }\n`,
    });
    const runtime = await startTestRuntime("", { manifestsDir: dir });
    cleanup.push(() => runtime.shutdown());
    expect((await postBinary(`${runtime.url}/team/mine`, { id: "from-manifests" })).status).toBe(202);
    const got = await sub.waitForEvent("from-manifests");
    expect(got.path).toBe("/hook");
    await runtime.pings.fire("team", "tick");
    await sub.waitUntil((r) => r.headers["ce-type"] === "dev.knative.sources.ping");
  });

  it("refuses invalid manifests, naming the file, the object and the rule", async () => {
    const dir = manifestsDir({
      "bad.yaml": `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: bad, namespace: team }\nspec:\n  broker: mine\n  subscriber: { uri: "http://x" }\n  delivery: { backoffDelay: "two seconds" }\n`,
    });
    const error = await startTestRuntime("", { manifestsDir: dir }).then(
      async (runtime) => {
        await runtime.shutdown();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain("bad.yaml");
    expect(message).toContain("Trigger/team/bad");
    expect(message).toContain("backoffDelay");
  });

  const invalid: Array<[string, string, string]> = [
    [
      "a Trigger on a Broker that does not exist",
      "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: orphan, namespace: test }\nspec:\n  broker: ghost\n  subscriber: { uri: 'http://127.0.0.1:9' }",
      "Trigger/test/orphan",
    ],
    [
      "a negative retry",
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: b, namespace: test }\nspec:\n  delivery: { retry: -1 }",
      "Broker/test/b",
    ],
    [
      "a subscriber without ref or uri",
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: default, namespace: test }\n---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: nowhere, namespace: test }\nspec:\n  broker: default\n  subscriber: {}",
      "Trigger/test/nowhere",
    ],
    [
      "a Service whose entry does not exist",
      "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: ghost\n  namespace: test\n  annotations: { knclaw.dev/entry: functions/ghost/app.ts }\nspec:\n  template:\n    spec:\n      containers: [ { image: 'ghcr.io/x/y:1' } ]",
      "test/ghost",
    ],
  ];
  for (const [name, yaml, object] of invalid) {
    it(`refuses to start on ${name}, naming the object`, async () => {
      const error = await startTestRuntime(yaml).then(
        async (runtime) => {
          await runtime.shutdown();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(object);
      if (error instanceof InvalidObjectsError) expect(error.problems[0]!.rule).not.toBe("");
    });
  }
});

describe("knclaw dev runtime: --redis", () => {
  it("points the memory service (the ksvc with KNCLAW_MEMORY_BACKEND) at the given Redis", async () => {
    const yaml = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: memory
  namespace: test
  annotations: { knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts }
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/knclaw/knclaw:test
          env: [ { name: KNCLAW_MEMORY_BACKEND, value: embedded } ]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: other
  namespace: test
  annotations: { knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts }
spec:
  template:
    spec:
      containers: [ { image: ghcr.io/knclaw/knclaw:test } ]`;
    const runtime = await startTestRuntime(yaml, { redisUrl: "redis://127.0.0.1:6379/3" });
    try {
      const memory = (await (await runtime.fetch("http://memory.test.svc.cluster.local/env")).json()) as Record<
        string,
        string
      >;
      expect(memory).toMatchObject({ KNCLAW_MEMORY_BACKEND: "redis", KNCLAW_REDIS_URL: "redis://127.0.0.1:6379/3" });
      const other = (await (await runtime.fetch("http://other.test.svc.cluster.local/env")).json()) as Record<
        string,
        string
      >;
      expect(other.KNCLAW_REDIS_URL).toBeUndefined();
    } finally {
      await runtime.shutdown();
    }
  });
});

describe("knclaw dev runtime: --processes", () => {
  it("runs a function's main.ts as a child process behind the same routes", async () => {
    const sub = await startSubscriber();
    const runtime = await startTestRuntime(platform(sub.url), { processes: true, env: { PATH: process.env.PATH } });
    try {
      const fn = runtime.functions.find((f) => f.name === "probe")!;
      expect(fn.mounted.childUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const env = (await (await fetch(`${runtime.url}/functions/probe/env`)).json()) as { pid: number; K_SINK: string };
      expect(env.pid).not.toBe(process.pid);
      expect(env.K_SINK).toBe(`${runtime.url}/test/default`);
      await postBinary(`${runtime.url}/test/default`, { id: "child-emit", type: "probe.emit" });
      await sub.waitForEvent("child-emit-emitted");
    } finally {
      await runtime.shutdown();
      await sub.close();
    }
  });
});

describe("knclaw dev runtime: graceful shutdown", () => {
  it("finishes in-flight deliveries (retries included) before shutdown resolves, and refuses new events", async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sub = await startSubscriber(async (_r, index) => {
      if (index === 0) return { status: 503 };
      await gate;
      return { status: 200 };
    });
    const runtime = await startTestRuntime(
      brokerWithTrigger(sub.url, "  delivery: { retry: 3, backoffPolicy: linear, backoffDelay: PT0.1S }"),
      { drainTimeoutMs: 30_000 },
    );
    try {
      await postBinary(`${runtime.url}/test/default`, { id: "in-flight" });
      await sub.waitFor(2);
      let finished = false;
      const stopping = runtime.shutdown().then(() => {
        finished = true;
      });
      await expect(postBinary(`${runtime.url}/test/default`, { id: "late" })).rejects.toThrow();
      expect(finished).toBe(false);
      release!();
      await stopping;
      expect(runtime.counters).toMatchObject({ delivered: 1, retried: 1, dropped: 0 });
    } finally {
      release?.();
      await sub.close();
    }
  });

  it("with a durable journal, the work in flight keeps emitting while it finishes: its events are taken and delivered", async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let url = "";
    // A subscriber that, like a function, emits its next event before it answers the delivery.
    const sub = await startSubscriber(async (request) => {
      if (eventId(request) !== "in-flight") return { status: 200 };
      await gate;
      const emitted = await postBinary(`${url}/test/default`, { id: "emitted-while-stopping" });
      return { status: emitted.status === 202 ? 200 : 500 };
    });
    const dir = mkdtempSync(join(tmpdir(), "knclaw-drain-"));
    const runtime = await startTestRuntime(brokerWithTrigger(sub.url), {
      drainTimeoutMs: 30_000,
      brokerStore: { kind: "sqlite", path: join(dir, "broker.sqlite") },
    });
    url = runtime.url;
    try {
      await postBinary(`${url}/test/default`, { id: "in-flight" });
      await sub.waitFor(1);
      const stopping = runtime.shutdown();
      release!();
      await stopping;
      await sub.waitForEvent("emitted-while-stopping");
      expect(runtime.counters).toMatchObject({ delivered: 2, dropped: 0 });
    } finally {
      release?.();
      await sub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("aborts deliveries still retrying at the drain deadline and counts them as dropped", async () => {
    const sub = await startSubscriber(() => ({ status: 503 }));
    const runtime = await startTestRuntime(
      brokerWithTrigger(sub.url, "  delivery: { retry: 100, backoffPolicy: linear, backoffDelay: PT1S }"),
      { drainTimeoutMs: 200 },
    );
    try {
      await postBinary(`${runtime.url}/test/default`, { id: "stuck" });
      await sub.waitFor(2);
      await runtime.shutdown();
      expect(runtime.counters.dropped).toBe(1);
    } finally {
      await sub.close();
    }
  });
});
