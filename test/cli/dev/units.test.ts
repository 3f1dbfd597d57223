import { createPublicKey } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyUrl } from "../../../cli/dev/cluster-url.ts";
import { buildFunctionEnv } from "../../../cli/dev/function-env.ts";
import { PathRouter, routesFor } from "../../../cli/dev/path-routes.ts";
import { fileSecretStore } from "../../../cli/dev/secret-store.ts";
import { createSecretResolver, memoryScopeOf } from "../../../cli/dev/secrets.ts";
import { verifyMemoryToken } from "../../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { createAppTransport } from "../../../eventing/delivery/app-transport.ts";
import { createHttpTransport } from "../../../eventing/delivery/http-transport.ts";
import { TransportError } from "../../../eventing/delivery/transport.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { generateSigningKey, parsePrivateKey, parsePublicKey } from "../../../runtime/keys.ts";

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
    const resolver = createSecretResolver({ KNCLAW_SLACK_SIGNING_SECRET: "a", BOT_TOKEN: "b" }, []);
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
    const resolver = createSecretResolver({}, []);
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
    // Another store, another secret: another state directory's tokens do not open this memory.
    const other = createSecretResolver({}, []).resolve({
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
  it("generates a signing key per producer and trusts each, by its role, in the bundle every function reads", () => {
    const signing = (name: string) => ({ name, valueFrom: { secretKeyRef: { name: "knclaw-event-keys", key: "k" } } });
    const agent = service("agent-ops", {}, { "knclaw.dev/component": "agent", "knclaw.dev/instance": "ops" }, [
      { name: "KNCLAW_SIGNING_KEY", valueFrom: { secretKeyRef: { name: "knclaw-agent-keys", key: "ops" } } },
    ]);
    const gateway = service("gateway", {}, { "knclaw.dev/component": "gateway" }, [
      {
        ...signing("KNCLAW_EVENT_SIGNING_KEY"),
        valueFrom: { secretKeyRef: { name: "knclaw-event-keys", key: "gateway" } },
      },
    ]);
    const external: KnativeObject = {
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: {
        name: "skill-web",
        namespace: "knclaw",
        labels: { "knclaw.dev/component": "skill", "knclaw.dev/skill": "web" },
      },
      spec: { subscriber: { uri: "https://skills.example.com/web" } },
    };
    const givenWebKey = generateSigningKey();
    const mine = generateSigningKey();
    const env = {
      // An external skill's key is the developer's to give (knclaw dev trusts it, their skill signs with it) ...
      KNCLAW_EVENT_KEYS_SKILL_WEB: givenWebKey.privateKeyPem,
      // ... and a bundle in the environment adds their own producers to the platform's.
      KNCLAW_EVENT_TRUST_BUNDLE: JSON.stringify({ "channel/slack": mine.publicKeyPem }),
    };
    const resolver = createSecretResolver(env, [agent, gateway, external]);
    const ask = (secret: string, key: string, envName: string, svc: KnativeObject) =>
      resolver.resolve({ secret, key, namespace: "knclaw", envName, service: svc })!;
    const agentKey = ask("knclaw-agent-keys", "ops", "KNCLAW_SIGNING_KEY", agent);
    const gatewayKey = ask("knclaw-event-keys", "gateway", "KNCLAW_EVENT_SIGNING_KEY", gateway);
    expect(agentKey).toContain("PRIVATE KEY");
    expect(gatewayKey).not.toBe(agentKey);
    expect(ask("knclaw-agent-keys", "ops", "KNCLAW_SIGNING_KEY", agent)).toBe(agentKey);
    const bundle = parseTrustBundle(ask("knclaw-event-trust", "bundle", "KNCLAW_EVENT_KEYS", gateway), "bundle");
    expect(bundle.roles()).toEqual(["agent/ops", "channel/slack", "gateway", "operator", "skill/web"]);
    const publicOf = (pem: string) => createPublicKey(parsePrivateKey(pem)).export({ format: "der", type: "spki" });
    const der = (role: string) => bundle.keysOf(role).map((key) => key.export({ format: "der", type: "spki" }));
    expect(der("agent/ops")).toEqual([publicOf(agentKey)]);
    expect(der("gateway")).toEqual([publicOf(gatewayKey)]);
    expect(der("skill/web")).toEqual([publicOf(givenWebKey.privateKeyPem)]);
    expect(der("channel/slack")).toEqual([parsePublicKey(mine.publicKeyPem).export({ format: "der", type: "spki" })]);
  });

  it("keeps what it generates in the state directory (0700, its file 0600): a restart keeps every key", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-dev-state-"));
    try {
      const agent = service("agent-ops", {}, { "knclaw.dev/component": "agent", "knclaw.dev/instance": "ops" }, [
        { name: "KNCLAW_SIGNING_KEY", valueFrom: { secretKeyRef: { name: "knclaw-agent-keys", key: "ops" } } },
      ]);
      const values = () => {
        const resolver = createSecretResolver({}, [agent], fileSecretStore(dir));
        const ask = (secret: string, key: string, envName: string) =>
          resolver.resolve({ secret, key, namespace: "knclaw", envName, service: agent })!;
        return [
          ask("knclaw-agent-keys", "ops", "KNCLAW_SIGNING_KEY"),
          ask("knclaw-memory-tokens", "secret", "KNCLAW_MEMORY_TOKEN_SECRET"),
          ask("knclaw-memory-tokens", "agent-ops", "KNCLAW_MEMORY_TOKEN"),
          ask("knclaw-event-trust", "bundle", "KNCLAW_EVENT_KEYS"),
        ];
      };
      const first = values();
      expect(values()).toEqual(first);
      expect(statSync(join(dir, "secrets")).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, "secrets", "generated.json")).mode & 0o777).toBe(0o600);
      // Nobody else's to read: a directory opened to others is refused rather than trusted.
      chmodSync(join(dir, "secrets"), 0o755);
      expect(() => fileSecretStore(dir)).toThrow(/must be a directory of mode 0700 owned by this user/);
      chmodSync(join(dir, "secrets"), 0o700);
      chmodSync(join(dir, "secrets", "generated.json"), 0o644);
      expect(() => fileSecretStore(dir)).toThrow(/must be a file of mode 0600/);
      chmodSync(join(dir, "secrets", "generated.json"), 0o600);
      writeFileSync(join(dir, "secrets", "generated.json"), "{not json", { mode: 0o600 });
      expect(() => fileSecretStore(dir)).toThrow(/is not the JSON knclaw dev wrote/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      secrets: createSecretResolver({}, [svc]),
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
