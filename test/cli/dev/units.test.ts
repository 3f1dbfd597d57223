import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { classifyUrl } from "../../../cli/dev/cluster-url.ts";
import { buildFunctionEnv } from "../../../cli/dev/function-env.ts";
import { PathRouter, routesFor } from "../../../cli/dev/path-routes.ts";
import { createSecretResolver, memoryScopeOf } from "../../../cli/dev/secrets.ts";
import { verifyMemoryToken } from "../../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { createAppTransport } from "../../../eventing/delivery/app-transport.ts";
import { createHttpTransport } from "../../../eventing/delivery/http-transport.ts";
import { TransportError } from "../../../eventing/delivery/transport.ts";

const service = (
  name: string,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
  env: unknown[] = [],
): KnativeObject => ({
  apiVersion: "serving.knative.dev/v1",
  kind: "Service",
  metadata: { name, namespace: "knclaw", annotations, labels },
  spec: { template: { spec: { containers: [{ image: "x", env }] } } },
});

describe("path routes (table-driven from ksvc annotations)", () => {
  const router = new PathRouter([
    ...routesFor(service("gateway", { "knclaw.dev/dev-path-prefix": "/api/v1, /v1" }), "knclaw"),
    ...routesFor(
      service("channel-slack", {
        "knclaw.dev/dev-path-prefix": "/channels/slack",
        "knclaw.dev/dev-path-strip": "true",
      }),
      "knclaw",
    ),
    ...routesFor(service("memory"), "knclaw"),
  ]);
  it("mounts every ksvc under /functions/<ksvc> with the prefix stripped", () => {
    expect(router.match("/functions/memory/v1/sessions")).toMatchObject({
      route: { service: "knclaw/memory" },
      path: "/v1/sessions",
    });
    expect(router.match("/functions/memory")).toMatchObject({ path: "/" });
    expect(router.match("/functions/memoryx/a")).toBeUndefined();
  });
  it("takes a declared `/` as the root path only (the gateway's console entry)", () => {
    const withRoot = new PathRouter([
      ...routesFor(service("gateway", { "knclaw.dev/dev-path-prefix": "/api/v1,/console,/" }), "knclaw"),
    ]);
    expect(withRoot.match("/")).toMatchObject({ route: { service: "knclaw/gateway" }, path: "/" });
    expect(withRoot.match("/console/runs")).toMatchObject({ path: "/console/runs" });
    expect(withRoot.match("/knclaw/unknown")).toBeUndefined();
  });
  it("serves declared prefixes with the full path, or stripped when asked", () => {
    expect(router.match("/api/v1/runs")).toMatchObject({ route: { service: "knclaw/gateway" }, path: "/api/v1/runs" });
    expect(router.match("/v1/chat/completions")).toMatchObject({
      route: { service: "knclaw/gateway" },
      path: "/v1/chat/completions",
    });
    expect(router.match("/channels/slack/events")).toMatchObject({
      route: { service: "knclaw/channel-slack" },
      path: "/events",
    });
    expect(router.match("/knclaw/default")).toBeUndefined();
  });
  it("refuses two services claiming one prefix", () => {
    expect(
      () =>
        new PathRouter([
          ...routesFor(service("a", { "knclaw.dev/dev-path-prefix": "/x" }), "n"),
          ...routesFor(service("b", { "knclaw.dev/dev-path-prefix": "/x/" }), "n"),
        ]),
    ).toThrow(/claimed by both/);
  });
});

describe("cluster URLs", () => {
  it("recognizes Service and broker-ingress addresses in any cluster domain", () => {
    expect(classifyUrl(new URL("http://memory.knclaw.svc.cluster.local/v1/x?y=1"))).toEqual({
      kind: "service",
      name: "memory",
      namespace: "knclaw",
      path: "/v1/x?y=1",
    });
    expect(classifyUrl(new URL("http://memory.knclaw.svc.corp.example"))).toMatchObject({
      kind: "service",
      name: "memory",
    });
    expect(classifyUrl(new URL("http://broker-ingress.knative-eventing.svc.cluster.local/ns/b"))).toEqual({
      kind: "broker-ingress",
      path: "/ns/b",
    });
    expect(classifyUrl(new URL("https://api.slack.com/x"))).toEqual({ kind: "external" });
  });
});

describe("dev secrets", () => {
  it("reads secretKeyRefs from the environment by <SECRET>_<KEY>, then by the variable's own name", () => {
    const resolver = createSecretResolver({ KNCLAW_SLACK_SIGNING_SECRET: "a", BOT_TOKEN: "b" });
    const svc = service("channel-slack");
    expect(
      resolver.resolve({
        secret: "knclaw-slack",
        key: "signing-secret",
        namespace: "knclaw",
        envName: "SIGNING_SECRET",
        service: svc,
      }),
    ).toBe("a");
    expect(
      resolver.resolve({
        secret: "knclaw-slack",
        key: "bot-token",
        namespace: "knclaw",
        envName: "BOT_TOKEN",
        service: svc,
      }),
    ).toBe("b");
    expect(
      resolver.resolve({ secret: "knclaw-slack", key: "other", namespace: "knclaw", envName: "OTHER", service: svc }),
    ).toBeUndefined();
  });
  it("generates the memory token secret and mints scoped tokens the memory service verifies", () => {
    const resolver = createSecretResolver({});
    const agent = service("agent-ops", {}, { "knclaw.dev/component": "agent", "knclaw.dev/instance": "ops" });
    const memory = service("memory", {}, { "knclaw.dev/component": "memory" });
    const secret = resolver.resolve({
      secret: "knclaw-memory-tokens",
      key: "secret",
      namespace: "knclaw",
      envName: "KNCLAW_MEMORY_TOKEN_SECRET",
      service: memory,
    })!;
    const token = resolver.resolve({
      secret: "knclaw-memory-tokens",
      key: "agent-ops",
      namespace: "knclaw",
      envName: "KNCLAW_MEMORY_TOKEN",
      service: agent,
    })!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(verifyMemoryToken(secret, token)).toEqual({ kind: "instance", instance: "ops" });
    // Another session, another secret: yesterday's tokens do not open today's memory.
    const other = createSecretResolver({}).resolve({
      secret: "knclaw-memory-tokens",
      key: "secret",
      namespace: "knclaw",
      envName: "KNCLAW_MEMORY_TOKEN_SECRET",
      service: memory,
    });
    expect(other).not.toBe(secret);
  });
  it("scopes memory tokens least-privilege by component", () => {
    expect(
      memoryScopeOf(service("c", {}, { "knclaw.dev/component": "channel", "knclaw.dev/channel": "slack" })),
    ).toEqual({ kind: "channel", name: "slack" });
    expect(memoryScopeOf(service("g", {}, { "knclaw.dev/component": "gateway" }))).toEqual({ kind: "gateway" });
    const skill = (labels: Record<string, string>) =>
      memoryScopeOf(service("s", {}, { "knclaw.dev/component": "skill", ...labels }));
    // A skill that keeps notes gets the notes scope; any other skill only its own call records.
    expect(skill({ "knclaw.dev/skill": "memory", "knclaw.dev/memory-scope": "notes" })).toEqual({
      kind: "notes",
      name: "memory",
    });
    expect(skill({ "knclaw.dev/skill": "http", "knclaw.dev/memory-scope": "skill" })).toEqual({
      kind: "skill",
      name: "http",
    });
    expect(skill({ "knclaw.dev/skill": "http" })).toEqual({ kind: "skill", name: "http" });
    expect(skill({})).toBeUndefined();
    expect(memoryScopeOf(service("x"))).toBeUndefined();
  });
  it("generates one signing key per agent instance and reports the public keys", () => {
    const resolver = createSecretResolver({});
    const agent = service("agent-ops", {}, { "knclaw.dev/component": "agent", "knclaw.dev/instance": "ops" });
    const pem = resolver.resolve({
      secret: "knclaw-agent-keys",
      key: "ops",
      namespace: "knclaw",
      envName: "KNCLAW_SIGNING_KEY",
      service: agent,
    })!;
    expect(pem).toContain("PRIVATE KEY");
    expect(
      resolver.resolve({
        secret: "knclaw-agent-keys",
        key: "ops",
        namespace: "knclaw",
        envName: "KNCLAW_SIGNING_KEY",
        service: agent,
      }),
    ).toBe(pem);
    expect(Object.keys(resolver.generatedAgentKeys())).toEqual(["ops"]);
    expect(resolver.generatedAgentKeys().ops).toContain("PUBLIC KEY");
  });
});

describe("function env", () => {
  it("builds the container env with Serving variables, K_SINK and rewritten cluster URLs; names missing secrets", () => {
    const svc = service("agent-ops", {}, {}, [
      { name: "PLAIN", value: "v" },
      { name: "MEMORY_URL", value: "http://memory.knclaw.svc.cluster.local" },
      { name: "NEEDED", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      { name: "OPTIONAL", valueFrom: { secretKeyRef: { name: "s", key: "o", optional: true } } },
      { name: "FROM_MAP", valueFrom: { configMapKeyRef: { name: "cm", key: "a" } } },
    ]);
    const built = buildFunctionEnv(svc, {
      secrets: createSecretResolver({}),
      configMaps: new Map([["knclaw/cm", { a: "from-map" }]]),
      port: 8080,
      rewrite: (value) =>
        value.replace("http://memory.knclaw.svc.cluster.local", "http://127.0.0.1:8080/functions/memory"),
      sink: { url: "http://127.0.0.1:8080/knclaw/default", ceOverrides: '{"extensions":{"a":"b"}}' },
    });
    expect(built.env).toMatchObject({
      PLAIN: "v",
      MEMORY_URL: "http://127.0.0.1:8080/functions/memory",
      FROM_MAP: "from-map",
      K_SERVICE: "agent-ops",
      K_CONFIGURATION: "agent-ops",
      K_REVISION: "agent-ops-00001",
      K_SINK: "http://127.0.0.1:8080/knclaw/default",
      K_CE_OVERRIDES: '{"extensions":{"a":"b"}}',
      PORT: "8080",
    });
    expect(built.env.NEEDED).toBeUndefined();
    expect(built.missing).toEqual(["NEEDED (Secret s, key k)"]);
  });
});

describe("transports", () => {
  it("HTTP transport: per-attempt timeout and response size limit", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/hang") return;
      res.end("x".repeat(2048));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const transport = createHttpTransport();
    try {
      await expect(
        transport({ url: `${base}/hang`, headers: {}, timeoutMs: 100, maxResponseBytes: 10_000 }),
      ).rejects.toMatchObject({ kind: "timeout" });
      await expect(transport({ url: `${base}/big`, headers: {}, maxResponseBytes: 1024 })).rejects.toMatchObject({
        kind: "response-too-large",
      });
      const ok = await transport({ url: `${base}/big`, headers: {}, maxResponseBytes: 4096 });
      expect(ok.body.byteLength).toBe(2048);
      await expect(transport({ url: "http://127.0.0.1:9/", headers: {}, maxResponseBytes: 10 })).rejects.toBeInstanceOf(
        TransportError,
      );
    } finally {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
  it("app transport: no socket, same timeout, a throwing app is a 500", async () => {
    const transport = createAppTransport((url) =>
      url.endsWith("/hang")
        ? { fetch: () => new Promise<Response>(() => undefined) }
        : url.endsWith("/throw")
          ? {
              fetch: () => {
                throw new Error("boom");
              },
            }
          : {
              fetch: async (request) =>
                new Response(`${request.method} ${new URL(request.url).pathname} ${await request.text()}`),
            },
    );
    const ok = await transport({
      url: "http://a.ns.svc.cluster.local/x",
      headers: {},
      body: new TextEncoder().encode("hi"),
      maxResponseBytes: 100,
    });
    expect(new TextDecoder().decode(ok.body)).toBe("POST /x hi");
    await expect(
      transport({ url: "http://a/hang", headers: {}, timeoutMs: 50, maxResponseBytes: 100 }),
    ).rejects.toMatchObject({ kind: "timeout" });
    expect((await transport({ url: "http://a/throw", headers: {}, maxResponseBytes: 100 })).status).toBe(500);
  });
});
