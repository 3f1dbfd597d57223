import { createPublicKey } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Secret } from "kubernetes-models/v1/Secret";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";
import { describeSecretsResult, registerSecretsCommand, runSecretsGenerate } from "../../cli/commands/secrets.ts";
import { createSecretResolver, memoryScopeOf } from "../../cli/dev/secrets.ts";
import { MemoryClient, MemoryError } from "../../clients/memory/client.ts";
import { verifyMemoryToken } from "../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { parseTrustBundle } from "../../eventing/trust/trusted-producers.ts";
import { createApp as createMemoryApp } from "../../functions/memory/app.ts";
import { validateConfigValue } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import type { RenderedObject } from "../../knative/render/types.ts";
import {
  containerEnv,
  generateSecrets,
  memoryScopeFor,
  PlatformSecretsError,
  publicKeysConfigSnippet,
  readSecretsDir,
  type SecretManifest,
} from "../../knative/secrets/index.ts";
import { serve } from "../../runtime/serve.ts";
import {
  argumentsDigest,
  parsePrivateKey,
  signCapability,
  trustedKeysFromEnv,
  verifyCapability,
} from "../../skills/runtime/index.ts";

/**
 * `knclaw secrets generate`: the Secrets the rendered manifests reference whose values knclaw defines. Checked
 * against the consumers themselves: the memory service verifies the minted tokens, the skill runtime accepts
 * capabilities signed with the generated agent keys once their public keys are in the config.
 */
const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function platformConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "prod", namespace: "agents" },
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    memory: { redis: { url: { secret: "redis", key: "url" } } },
    broker: { deadLetterSink: { apiToken: { secret: "ops-tokens", key: "deadletter" } } },
    gateway: {
      tokens: {
        cli: { secret: "knclaw-gateway", key: "cli-token" },
        ci: { secret: "ops-tokens", key: "ci-gateway" },
      },
    },
    channels: {
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        defaultInstance: "ops",
      },
    },
    policies: { default: { tools: { allow: ["time.*", "memory.*"] } } },
    skills: { time: {}, memory: {} },
    instances: {
      ops: {
        model: "openai/gpt-4o",
        provider: { apiKey: { secret: "openai", key: "api-key" } },
        skills: ["time", "memory"],
        channels: ["slack"],
      },
      helper: {
        model: "demo/echo",
        skills: ["time"],
        signingKey: { secret: "helper-keys", key: "ed25519" },
      },
    },
    ...extra,
  };
}

const rendered = (value: Record<string, unknown> = platformConfig()) => render(validateConfigValue(value));

function services(objects: readonly RenderedObject[]): RenderedObject[] {
  return objects.filter((o) => o.kind === "Service" && o.apiVersion.startsWith("serving.knative.dev/"));
}

/** Every secretKeyRef of every rendered ksvc: `<secret>/<key>` -> the variables reading it. */
function renderedRefs(objects: readonly RenderedObject[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const service of services(objects)) {
    for (const entry of containerEnv(service)) {
      if (entry.ref === undefined) continue;
      const id = `${entry.ref.secret}/${entry.ref.key}`;
      out.set(id, [...(out.get(id) ?? []), `${service.metadata.name}:${entry.name}`]);
    }
  }
  return out;
}

/** The trust bundle of an earlier run's values. */
function bundleOf(values: ReadonlyMap<string, string>) {
  return parseTrustBundle(values.get("agents/knclaw-event-trust/bundle")!, "bundle");
}

function generatedValue(secrets: readonly SecretManifest[], secret: string, key: string): string {
  const value = secrets.find((s) => s.metadata.name === secret)?.stringData[key];
  if (value === undefined) throw new Error(`no ${secret}/${key}`);
  return value;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-secrets-"));
  tempDirs.push(dir);
  return dir;
}

function configFile(value: Record<string, unknown> = platformConfig()): string {
  const path = join(tempDir(), "knclaw.yaml");
  writeFileSync(path, stringify(value));
  return path;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("what is generated", () => {
  it("covers every rendered reference to a platform-defined value, and only those", () => {
    const objects = rendered();
    const generated = generateSecrets(objects);
    const covered = new Set(
      generated.secrets.flatMap((s) => Object.keys(s.stringData).map((k) => `${s.metadata.name}/${k}`)),
    );
    // The outside credentials, by hand from the config above: everything else a ksvc reads is knclaw's own.
    const outside = new Set(["redis/url", "slack/signing", "slack/bot", "openai/api-key"]);
    const refs = renderedRefs(objects);
    expect(refs.size).toBeGreaterThan(10);
    for (const [id, readers] of refs) {
      if (outside.has(id)) expect(covered.has(id), `${id} (${readers}) must not be generated`).toBe(false);
      else expect(covered.has(id), `${id} (${readers}) is not generated`).toBe(true);
    }
    // Nothing generated that no manifest reads, but the operator's key (`knclaw send --sign`), which the bundle trusts.
    for (const id of covered) {
      if (id !== "knclaw-event-keys/operator") expect(refs.has(id), `${id} is generated but unreferenced`).toBe(true);
    }
    expect(generated.external.map((r) => `${r.secret}/${r.key}`).sort()).toEqual([...outside].sort());
    expect(generated.secrets.map((s) => s.metadata.name).sort()).toEqual([
      "helper-keys",
      "knclaw-agent-keys",
      "knclaw-event-keys",
      "knclaw-event-trust",
      "knclaw-gateway",
      "knclaw-memory-tokens",
      "ops-tokens",
    ]);
  });

  it("writes Opaque Secrets in the platform namespace that validate against the Kubernetes schema", () => {
    const { secrets } = generateSecrets(rendered());
    for (const manifest of secrets) {
      expect(manifest).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "Opaque" });
      expect(manifest.metadata.namespace).toBe("agents");
      const { apiVersion: _a, kind: _k, ...rest } = manifest;
      expect(() => new Secret(rest).validate()).not.toThrow();
    }
    // Rules of the API server the OpenAPI schema leaves out are checked too (manifests from elsewhere than render).
    const service = (key: string, secret = "tokens"): RenderedObject => ({
      apiVersion: "serving.knative.dev/v1",
      kind: "Service",
      metadata: { name: "gateway", namespace: "agents", labels: { "knclaw.dev/component": "gateway" } },
      spec: {
        template: {
          spec: {
            containers: [
              { env: [{ name: "KNCLAW_GATEWAY_TOKEN_X", valueFrom: { secretKeyRef: { name: secret, key } } }] },
            ],
          },
        },
      },
    });
    expect(generateSecrets([service("ok.key-1_A")]).secrets[0]!.stringData).toHaveProperty("ok.key-1_A");
    expect(() => generateSecrets([service("cli token!")])).toThrow(/"cli token!" is not a Secret data key/);
    expect(() => generateSecrets([service("..")])).toThrow(/not a Secret data key/);
    expect(() => generateSecrets([service("k", "Not_A_Name")])).toThrow(/"Not_A_Name" is not a Kubernetes name/);
  });

  it("mints one memory token per client with the scope the memory service then grants", async () => {
    const objects = rendered();
    const { secrets } = generateSecrets(objects);
    const secret = generatedValue(secrets, "knclaw-memory-tokens", "secret");
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const expected: Record<string, unknown> = {
      "agent-ops": { kind: "instance", instance: "ops" },
      "agent-helper": { kind: "instance", instance: "helper" },
      "channel-slack": { kind: "channel", name: "slack" },
      gateway: { kind: "gateway" },
      "skill-memory": { kind: "notes", name: "memory" },
      deadletter: { kind: "deadletter" },
    };
    const tokens = secrets.find((s) => s.metadata.name === "knclaw-memory-tokens")!.stringData;
    expect(Object.keys(tokens).sort()).toEqual([...Object.keys(expected), "secret"].sort());
    for (const [client, scope] of Object.entries(expected)) {
      expect(verifyMemoryToken(secret, tokens[client]!), client).toEqual(scope);
      expect(verifyMemoryToken("another-secret-0123456789", tokens[client]!)).toBeUndefined();
    }

    // The memory service itself, started with the generated key, opens an agent's own instance only.
    const memory = await serve(
      await createMemoryApp({
        KNCLAW_MEMORY_TOKEN_SECRET: secret,
        KNCLAW_MEMORY_BACKEND: "embedded",
        KNCLAW_LOG_LEVEL: "silent",
      }),
      { port: 0, host: "127.0.0.1" },
    );
    try {
      const agent = new MemoryClient({ baseUrl: memory.url, token: tokens["agent-ops"]! });
      await expect(agent.listSessions("ops")).resolves.toMatchObject({ sessions: [] });
      const refused = await agent.listSessions("helper").catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(MemoryError);
      expect((refused as MemoryError).status).toBe(403);
      const forged = new MemoryClient({ baseUrl: memory.url, token: `${tokens["agent-ops"]!.slice(0, -2)}AA` });
      expect(((await forged.listSessions("ops").catch((e: unknown) => e)) as MemoryError).status).toBe(401);
    } finally {
      await memory.shutdown();
    }
  });

  it("gives every component the same scope and token as knclaw dev does (one mapping)", () => {
    // With a skill that records its mutating calls (http) beside one that keeps notes (memory).
    const objects = rendered(platformConfig({ skills: { time: {}, memory: {}, http: {} } }));
    const { secrets } = generateSecrets(objects);
    const secret = generatedValue(secrets, "knclaw-memory-tokens", "secret");
    // The dev resolver, handed the same key, mints the very same tokens.
    const resolver = createSecretResolver(
      { KNCLAW_MEMORY_TOKENS_SECRET: secret },
      objects as unknown as KnativeObject[],
    );
    let compared = 0;
    for (const service of services(objects)) {
      const entry = containerEnv(service).find((e) => e.name === "KNCLAW_MEMORY_TOKEN");
      if (entry?.ref === undefined) continue;
      const fromDev = resolver.resolve({
        ...entry.ref,
        namespace: "agents",
        envName: entry.name,
        service: service as unknown as KnativeObject,
      });
      expect(fromDev, service.metadata.name).toBe(generatedValue(secrets, entry.ref.secret, entry.ref.key));
      const labels = service.metadata.labels ?? {};
      expect(memoryScopeOf(service as unknown as KnativeObject)).toEqual(
        memoryScopeFor({
          component: labels["knclaw.dev/component"],
          instance: labels["knclaw.dev/instance"],
          channel: labels["knclaw.dev/channel"],
          skill: labels["knclaw.dev/skill"],
          memoryScope: labels["knclaw.dev/memory-scope"],
        }),
      );
      compared++;
    }
    expect(compared).toBe(7);
    expect(memoryScopeFor({ component: "memory" })).toBeUndefined();
    expect(memoryScopeFor({ component: "agent" })).toBeUndefined();
  });

  it("mints a skill-scoped token for every skill with a mutating tool (built-in or MCP), none for a read-only one, and the service opens only that skill's call records with it", async () => {
    const value = platformConfig({
      policies: { default: { tools: { allow: ["time.*", "memory.*", "http.*", "docs.*", "search.*"] } } },
      skills: {
        time: {},
        memory: {},
        http: {},
        // Tools discovered at run time mutate unless configured otherwise.
        docs: { mcp: { transport: "stdio", command: "mcp-docs" } },
        // Every tool it may offer is configured read-only.
        search: {
          mcp: {
            transport: "http",
            url: "https://mcp.example.com/mcp",
            allow: ["find"],
            tools: { find: { mutates: false } },
          },
        },
      },
    });
    const result = runSecretsGenerate({ config: configFile(value), out: join(tempDir(), "secrets") });
    const secrets = result.generated.secrets;
    const secret = generatedValue(secrets, "knclaw-memory-tokens", "secret");
    const tokens = secrets.find((s) => s.metadata.name === "knclaw-memory-tokens")!.stringData;
    expect(verifyMemoryToken(secret, tokens["skill-http"]!)).toEqual({ kind: "skill", name: "http" });
    expect(verifyMemoryToken(secret, tokens["skill-docs"]!)).toEqual({ kind: "skill", name: "docs" });
    expect(verifyMemoryToken(secret, tokens["skill-memory"]!)).toEqual({ kind: "notes", name: "memory" });
    expect(tokens["skill-time"]).toBeUndefined();
    expect(tokens["skill-search"]).toBeUndefined();

    const memory = await serve(
      await createMemoryApp({
        KNCLAW_MEMORY_TOKEN_SECRET: secret,
        KNCLAW_MEMORY_BACKEND: "embedded",
        KNCLAW_LOG_LEVEL: "silent",
      }),
      { port: 0, host: "127.0.0.1" },
    );
    try {
      const http = new MemoryClient({ baseUrl: memory.url, token: tokens["skill-http"]! });
      const claim = { key: "call:1", ttlMs: 60_000 };
      await expect(http.dedup({ namespace: "skill-http" }, claim)).resolves.toMatchObject({ firstSeen: true });
      for (const refused of [
        () => http.dedup({ namespace: "skill-docs" }, claim),
        () => http.listNotes("ops"),
        () => http.listSessions("ops"),
        () => http.listRuns("ops"),
      ]) {
        expect(((await refused().catch((e: unknown) => e)) as MemoryError).status).toBe(403);
      }
    } finally {
      await memory.shutdown();
    }
  });

  it("makes agent keys whose capabilities the skill runtime accepts once the printed public keys are in the config", () => {
    const first = generateSecrets(rendered());
    expect(Object.keys(first.agentPublicKeys).sort()).toEqual(["helper", "ops"]);
    const opsKey = parsePrivateKey(generatedValue(first.secrets, "knclaw-agent-keys", "ops"));
    const helperKey = parsePrivateKey(generatedValue(first.secrets, "helper-keys", "ed25519"));
    expect(generatedValue(first.secrets, "knclaw-agent-keys", "ops")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    // Paste the snippet into the config, render again: the skill's KNCLAW_AGENT_KEYS carries the keys.
    const snippet = parseYaml(publicKeysConfigSnippet(first.agentPublicKeys)) as {
      instances: Record<string, { publicKey: string }>;
    };
    const value = platformConfig();
    const instances = value.instances as Record<string, Record<string, unknown>>;
    for (const [name, { publicKey }] of Object.entries(snippet.instances)) instances[name]!.publicKey = publicKey;
    const skill = services(render(validateConfigValue(value))).find((s) => s.metadata.name === "skill-time")!;
    const env = Object.fromEntries(
      containerEnv(skill).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
    const trusted = trustedKeysFromEnv(env);

    const request = {
      runId: "run-1",
      instance: "ops",
      skill: "time",
      tool: "now",
      callId: "call-1",
      digest: argumentsDigest({}),
    };
    expect(verifyCapability(signCapability(request, opsKey), request, trusted)).toMatchObject({ ok: true });
    const helperRequest = { ...request, instance: "helper" };
    expect(verifyCapability(signCapability(helperRequest, helperKey), helperRequest, trusted)).toMatchObject({
      ok: true,
    });
    // One instance's key does not sign for another.
    const forged = verifyCapability(signCapability(helperRequest, opsKey), helperRequest, trusted);
    expect(forged).toMatchObject({ ok: false });
  });
});

describe("files, reuse and rotation", () => {
  it("writes one 0600 file per Secret in a 0700 directory, and refuses to overwrite an earlier set without --from", () => {
    const config = configFile();
    const out = join(tempDir(), "secrets");
    const result = runSecretsGenerate({ config, out });
    expect(result.files.map((f) => f.slice(out.length + 1)).sort()).toEqual([
      "helper-keys.yaml",
      "knclaw-agent-keys.yaml",
      "knclaw-event-keys.yaml",
      "knclaw-event-trust.yaml",
      "knclaw-gateway.yaml",
      "knclaw-memory-tokens.yaml",
      "ops-tokens.yaml",
    ]);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const file of result.files) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const docs = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS());
      expect(docs).toHaveLength(1);
      expect(docs[0]).toMatchObject({ kind: "Secret", type: "Opaque" });
    }
    // No temporary files are left behind.
    expect(readdirSync(out).filter((name) => name.startsWith("."))).toEqual([]);
    expect(() => runSecretsGenerate({ config, out })).toThrow(/already holds .*--from/);
  });

  it("keeps every value when re-run with --from, replaces only what --rotate names, and re-mints memory tokens", () => {
    const config = configFile();
    const dir = join(tempDir(), "secrets");
    const first = runSecretsGenerate({ config, out: dir });
    const values = readSecretsDir(dir);
    // A looser mode on an existing file does not survive the rewrite.
    chmodSync(join(dir, "knclaw-gateway.yaml"), 0o644);

    const again = runSecretsGenerate({ config, from: dir });
    expect(again.files).toEqual(first.files);
    expect(again.generated.keys.every((k) => k.status === "kept")).toBe(true);
    expect(readSecretsDir(dir)).toEqual(values);
    expect(statSync(join(dir, "knclaw-gateway.yaml")).mode & 0o777).toBe(0o600);

    const rotated = runSecretsGenerate({ config, from: dir, rotate: ["knclaw-gateway/cli-token"] });
    const statuses = Object.fromEntries(rotated.generated.keys.map((k) => [`${k.ref.secret}/${k.ref.key}`, k.status]));
    expect(statuses["knclaw-gateway/cli-token"]).toBe("rotated");
    const after = readSecretsDir(dir);
    for (const [id, value] of values) {
      if (id === "agents/knclaw-gateway/cli-token") expect(after.get(id)).not.toBe(value);
      else expect(after.get(id), id).toBe(value);
    }

    const newKey = runSecretsGenerate({ config, from: dir, rotate: ["knclaw-memory-tokens"] });
    const byKey = Object.fromEntries(newKey.generated.keys.map((k) => [`${k.ref.secret}/${k.ref.key}`, k.status]));
    expect(byKey["knclaw-memory-tokens/secret"]).toBe("rotated");
    expect(byKey["knclaw-memory-tokens/agent-ops"]).toBe("reminted");
    const fresh = readSecretsDir(dir);
    const secret = fresh.get("agents/knclaw-memory-tokens/secret")!;
    expect(secret).not.toBe(values.get("agents/knclaw-memory-tokens/secret"));
    expect(verifyMemoryToken(secret, fresh.get("agents/knclaw-memory-tokens/agent-ops")!)).toEqual({
      kind: "instance",
      instance: "ops",
    });
    expect(fresh.get("agents/knclaw-agent-keys/ops")).toBe(values.get("agents/knclaw-agent-keys/ops"));
  });

  it("generates what an earlier set lacks (a new instance) and keeps the rest", () => {
    const dir = join(tempDir(), "secrets");
    runSecretsGenerate({ config: configFile(), out: dir });
    const before = readSecretsDir(dir);
    const value = platformConfig();
    (value.instances as Record<string, unknown>).third = { model: "demo/echo", skills: ["time"] };
    const result = runSecretsGenerate({ config: configFile(value), from: dir });
    const statuses = Object.fromEntries(result.generated.keys.map((k) => [`${k.ref.secret}/${k.ref.key}`, k.status]));
    expect(statuses["knclaw-agent-keys/third"]).toBe("new");
    expect(statuses["knclaw-memory-tokens/agent-third"]).toBe("new");
    expect(statuses["knclaw-agent-keys/ops"]).toBe("kept");
    // The bundle follows the keys: it now trusts the new instance too.
    expect(statuses["knclaw-event-trust/bundle"]).toBe("reminted");
    const after = readSecretsDir(dir);
    for (const [id, v] of before) if (id !== "agents/knclaw-event-trust/bundle") expect(after.get(id), id).toBe(v);
    expect(bundleOf(after).roles()).toContain("agent/third");
  });

  it("gives every producer a signing key and trusts each for its role, external skills included", () => {
    const value = platformConfig();
    (value.skills as Record<string, unknown>).web = {
      external: {
        url: "https://skills.example.com/web",
        tools: [{ name: "get", description: "get", parameters: { type: "object" } }],
      },
    };
    const { secrets, keys } = generateSecrets(rendered(value));
    const eventKeys = secrets.find((s) => s.metadata.name === "knclaw-event-keys")!.stringData;
    expect(Object.keys(eventKeys).sort()).toEqual(
      expect.arrayContaining(["channel-slack", "gateway", "skill-memory", "skill-time", "skill-web", "operator"]),
    );
    const external = keys.find((k) => k.ref.key === "skill-web")!;
    expect(external.ref.consumers).toEqual([expect.stringMatching(/^external skill web \(give it this key/)]);
    const operator = keys.find((k) => k.ref.key === "operator")!;
    expect(operator.ref.consumers).toEqual([expect.stringMatching(/^the operator \(knclaw send --sign/)]);
    const bundle = parseTrustBundle(generatedValue(secrets, "knclaw-event-trust", "bundle"), "bundle");
    const spki = (pem: string) => createPublicKey(parsePrivateKey(pem)).export({ format: "der", type: "spki" });
    for (const [key, pem] of Object.entries(eventKeys)) {
      const role = key.replace("-", "/");
      expect(
        bundle.keysOf(role).map((k) => k.export({ format: "der", type: "spki" })),
        key,
      ).toEqual([spki(pem)]);
    }
    expect(bundle.keysOf("agent/ops").map((k) => k.export({ format: "der", type: "spki" }))).toEqual([
      spki(generatedValue(secrets, "knclaw-agent-keys", "ops")),
    ]);
  });

  it("rotates a signing key with overlap: the previous key stays trusted until the next rotation or --retire", () => {
    const config = configFile();
    const dir = join(tempDir(), "secrets");
    runSecretsGenerate({ config, out: dir });
    const original = readSecretsDir(dir);
    const pub = (values: Map<string, string>, id: string) =>
      createPublicKey(parsePrivateKey(values.get(id)!)).export({ format: "der", type: "spki" });
    const trusted = (values: Map<string, string>, role: string) =>
      bundleOf(values)
        .keysOf(role)
        .map((k) => k.export({ format: "der", type: "spki" }));
    const gatewayKey = "agents/knclaw-event-keys/gateway";

    const rotated = runSecretsGenerate({ config, from: dir, rotate: ["knclaw-event-keys/gateway"] });
    const first = readSecretsDir(dir);
    expect(first.get(gatewayKey)).not.toBe(original.get(gatewayKey));
    expect(trusted(first, "gateway")).toEqual([pub(first, gatewayKey), pub(original, gatewayKey)]);
    expect(rotated.generated.overlaps.map((o) => `${o.ref.secret}/${o.ref.key}`)).toEqual([
      "knclaw-event-keys/gateway",
    ]);
    expect(describeSecretsResult(rotated).join("\n")).toContain("--retire knclaw-event-keys/gateway");
    // Re-running keeps the overlap; only the keys it touches change.
    runSecretsGenerate({ config, from: dir });
    expect(readSecretsDir(dir)).toEqual(first);
    // The next rotation drops the oldest key.
    runSecretsGenerate({ config, from: dir, rotate: ["knclaw-event-keys/gateway"] });
    const second = readSecretsDir(dir);
    expect(trusted(second, "gateway")).toEqual([pub(second, gatewayKey), pub(first, gatewayKey)]);
    // --retire drops the previous key at once; other roles are untouched throughout.
    const retired = runSecretsGenerate({ config, from: dir, retire: ["knclaw-event-keys/gateway"] });
    expect(trusted(readSecretsDir(dir), "gateway")).toEqual([pub(second, gatewayKey)]);
    expect(retired.generated.overlaps).toEqual([]);
    expect(trusted(readSecretsDir(dir), "agent/ops")).toEqual([pub(original, "agents/knclaw-agent-keys/ops")]);
    // An agent key rotates the same way (its capability tokens and its events alike).
    runSecretsGenerate({ config, from: dir, rotate: ["knclaw-agent-keys/ops"] });
    const agent = readSecretsDir(dir);
    expect(trusted(agent, "agent/ops")).toEqual([
      pub(agent, "agents/knclaw-agent-keys/ops"),
      pub(original, "agents/knclaw-agent-keys/ops"),
    ]);
    expect(() => runSecretsGenerate({ config, from: dir, retire: ["knclaw-gateway/cli-token"] })).toThrow(
      /--retire knclaw-gateway\/cli-token: no such signing key/,
    );
    expect(() => runSecretsGenerate({ config, from: dir, rotate: ["knclaw-event-trust"] })).toThrow(
      /the trust bundle derives from the signing keys/,
    );
  });

  it("reads an earlier set written with base64 `data` too, and refuses unusable earlier values by name only", () => {
    const dir = tempDir();
    const first = generateSecrets(rendered());
    const gateway = first.secrets.find((s) => s.metadata.name === "knclaw-gateway")!;
    writeFileSync(
      join(dir, "gateway.yaml"),
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "knclaw-gateway", namespace: "agents" },
        type: "Opaque",
        data: { "cli-token": Buffer.from(gateway.stringData["cli-token"]!).toString("base64") },
      }),
    );
    const kept = generateSecrets(rendered(), { previous: readSecretsDir(dir) });
    expect(generatedValue(kept.secrets, "knclaw-gateway", "cli-token")).toBe(gateway.stringData["cli-token"]);

    const short = "abc";
    const broken = new Map([["agents/knclaw-gateway/cli-token", short]]);
    expect(() => generateSecrets(rendered(), { previous: broken })).toThrow(
      /earlier value of knclaw-gateway\/cli-token is not a token.*--rotate knclaw-gateway\/cli-token/,
    );
    const notAKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let message = "";
    try {
      generateSecrets(rendered(), { previous: new Map([["agents/knclaw-agent-keys/ops", notAKey]]) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/knclaw-agent-keys\/ops is not an Ed25519 private key/);
    expect(message).not.toContain("AAAA");
    // Rotation replaces an unusable value instead of refusing it.
    const rotated = generateSecrets(rendered(), { previous: broken, rotate: ["knclaw-gateway"] });
    expect(generatedValue(rotated.secrets, "knclaw-gateway", "cli-token")).not.toBe(short);

    writeFileSync(join(dir, "broken.yaml"), "kind: Secret\n  bad: [indent\n");
    expect(() => readSecretsDir(dir)).toThrow(/broken\.yaml is not valid YAML/);
    expect(() => readSecretsDir(join(dir, "missing"))).toThrow(/no such directory/);
  });

  it("refuses rotation targets that name nothing or only a derived memory token", () => {
    expect(() => generateSecrets(rendered(), { rotate: ["knclaw-gatway"] })).toThrow(
      /--rotate knclaw-gatway: no such generated Secret.*knclaw-gateway/,
    );
    expect(() => generateSecrets(rendered(), { rotate: ["knclaw-gateway/nope"] })).toThrow(PlatformSecretsError);
    expect(() => generateSecrets(rendered(), { rotate: ["a/b/c"] })).toThrow(PlatformSecretsError);
    expect(() => generateSecrets(rendered(), { rotate: ["knclaw-memory-tokens/agent-ops"] })).toThrow(
      /memory tokens derive from knclaw-memory-tokens\/secret/,
    );
  });

  it("refuses a Secret key that is both a generated value and an outside credential, or two kinds of value", () => {
    const clash = platformConfig();
    (clash.gateway as { tokens: Record<string, unknown> }).tokens.cli = { secret: "slack", key: "bot" };
    expect(() => generateSecrets(rendered(clash))).toThrow(/slack key bot is both a knclaw-generated value/);
    const twoKinds = platformConfig();
    (twoKinds.gateway as { tokens: Record<string, unknown> }).tokens.cli = { secret: "helper-keys", key: "ed25519" };
    expect(() => generateSecrets(rendered(twoKinds))).toThrow(/read as two different values/);
    // The same token shared by two consumers of the same kind is fine: one value.
    const shared = platformConfig();
    (shared.gateway as { tokens: Record<string, unknown> }).tokens.ci = { secret: "ops-tokens", key: "deadletter" };
    const generated = generateSecrets(rendered(shared));
    const key = generated.keys.find((k) => k.ref.secret === "ops-tokens" && k.ref.key === "deadletter")!;
    // The gateway reads the dead-letter API token too: its console reaches dead letters server-side.
    expect(key.ref.consumers.sort()).toEqual([
      "deadletter (KNCLAW_DEADLETTER_TOKEN)",
      "gateway (KNCLAW_DEADLETTER_TOKEN)",
      "gateway (KNCLAW_GATEWAY_TOKEN_CI)",
    ]);
  });
});

describe("the command", () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      err.push(String(chunk));
      return true;
    });
    return { out: () => out.join(""), err: () => err.join("") };
  }

  async function knclaw(args: string[]): Promise<void> {
    const program = new Command("knclaw").exitOverride();
    registerSecretsCommand(program);
    await program.parseAsync(args, { from: "user" });
  }

  it("never prints a value with -o; tells what to paste and what else is needed", async () => {
    const config = configFile();
    const out = join(tempDir(), "secrets");
    const io = capture();
    await knclaw(["secrets", "generate", "-c", config, "-o", out]);
    vi.restoreAllMocks();
    const values = [...readSecretsDir(out).values()];
    expect(values.length).toBeGreaterThan(8);
    const printed = io.out() + io.err();
    for (const value of values) {
      for (const line of value.split("\n").filter((l) => l.length > 8 && !l.startsWith("-----"))) {
        expect(printed).not.toContain(line);
      }
    }
    expect(io.out()).toContain(
      `wrote ${join(out, "knclaw-gateway.yaml")}: Secret agents/knclaw-gateway: cli-token (new)`,
    );
    expect(io.out()).toContain("instances.ops.publicKey is missing: add it");
    expect(io.out()).toMatch(/instances:\n {2}helper:\n {4}publicKey: \|\n {6}-----BEGIN PUBLIC KEY-----/);
    expect(io.out()).toContain("agents/slack key signing  (channel-slack (SIGNING_SECRET))");
    expect(io.out()).toContain(`kubectl apply -f ${out}`);
  });

  it("prints the YAML (values included) only with --stdout, with the report on stderr", async () => {
    const config = configFile();
    const io = capture();
    await knclaw(["secrets", "generate", "-c", config, "--stdout"]);
    vi.restoreAllMocks();
    const docs = parseAllDocuments(io.out()).map((d) => d.toJS() as SecretManifest);
    expect(docs.map((d) => d.metadata.name).sort()).toEqual([
      "helper-keys",
      "knclaw-agent-keys",
      "knclaw-event-keys",
      "knclaw-event-trust",
      "knclaw-gateway",
      "knclaw-memory-tokens",
      "ops-tokens",
    ]);
    const token = docs.find((d) => d.metadata.name === "knclaw-gateway")!.stringData["cli-token"]!;
    expect(io.err()).toContain("Secret agents/knclaw-gateway: cli-token (new)");
    expect(io.err()).not.toContain(token);
  });

  it("says where the values should go when told nothing, and refuses both at once", () => {
    const config = configFile();
    expect(() => runSecretsGenerate({ config })).toThrow(/-o DIR .* or --stdout/);
    expect(() => runSecretsGenerate({ config, out: tempDir(), stdout: true })).toThrow(/choose one/);
  });

  it("reports keys that already match the config", () => {
    const first = generateSecrets(rendered());
    const value = platformConfig();
    const instances = value.instances as Record<string, Record<string, unknown>>;
    instances.ops!.publicKey = first.agentPublicKeys.ops;
    const dir = tempDir();
    mkdirSync(join(dir, "earlier"));
    const earlier = join(dir, "earlier");
    for (const manifest of first.secrets)
      writeFileSync(join(earlier, `${manifest.metadata.name}.yaml`), stringify(manifest));
    const result = runSecretsGenerate({ config: configFile(value), from: earlier });
    expect(result.publicKeys).toEqual({ ops: "matches", helper: "missing" });
    const lines = describeSecretsResult(result).join("\n");
    expect(lines).toContain("instances.ops.publicKey matches");
    // Only the key still missing is offered for pasting.
    const snippet = lines.slice(lines.indexOf("instances:\n"));
    expect(snippet).toContain("helper:");
    expect(snippet).not.toContain("ops:");
  });
});
