import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { resolveImage } from "../../knative/config/functions.ts";
import { missingImages, PLACEHOLDER_IMAGE, requireImages, withPlaceholderImages } from "../../knative/config/images.ts";
import {
  ConfigError,
  configWarnings,
  defaultConfigPath,
  listFunctions,
  loadConfig,
  platformConfigJsonSchema,
  validateConfigValue,
} from "../../knative/config/index.ts";
import { fullConfig, minimalConfig } from "./fixtures.ts";

function issuesOf(value: unknown): { path: string; rule: string; message: string }[] {
  try {
    validateConfigValue(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error("expected a ConfigError");
}

type Mutate = (c: Record<string, any>) => void;

describe("knclaw.yaml schema", () => {
  it("accepts the shipped default config", () => {
    const config = loadConfig();
    expect(config.instances.assistant?.model).toBe("demo/echo");
    expect(config.instances.assistant?.schedules[0]?.name).toBe("heartbeat");
    expect(config.memory.redis).toBeUndefined();
    expect(config.metadata.namespace).toBe("knclaw");
    expect(listFunctions(config).map((f) => f.name)).toEqual([
      "memory",
      "deadletter",
      "gateway",
      "agent-assistant",
      "skill-memory",
      "skill-time",
    ]);
  });

  it("accepts the minimal and the full fixture, applying defaults", () => {
    const minimal = validateConfigValue(minimalConfig());
    expect(minimal.broker.name).toBe("default");
    expect(minimal.broker.delivery).toEqual({
      retry: 5,
      backoffPolicy: "exponential",
      backoffDelay: "PT0.5S",
      timeout: "PT60S",
    });
    expect(minimal.instances.ops?.schedules[0]?.concurrencyPolicy).toBe("Forbid");
    expect(minimal.instances.ops?.policy).toBe("default");
    const full = validateConfigValue(fullConfig());
    expect(full.channels.slack?.enabled).toBe(true);
    expect(full.skills.search?.external?.tools[0]?.mutates).toBe(false);
  });

  // Each kind of invalid config: the path and the rule the ConfigError must name.
  const cases: [string, Mutate, string, string][] = [
    ["wrong apiVersion", (c) => (c.apiVersion = "knclaw.dev/v2"), "apiVersion", "enum"],
    ["wrong kind", (c) => (c.kind = "Cluster"), "kind", "enum"],
    ["unknown top-level key", (c) => (c.instancez = {}), "instancez", "unknown-key"],
    ["unknown nested key", (c) => (c.instances.ops.modle = "x"), "instances.ops.modle", "unknown-key"],
    ["missing model", (c) => delete c.instances.ops.model, "instances.ops.model", "required"],
    ["model without provider", (c) => (c.instances.ops.model = "gpt4"), "instances.ops.model", "model"],
    ["unknown provider", (c) => (c.instances.ops.model = "acme/x"), "instances.ops.model", "model"],
    [
      "provider needs api key",
      (c) => (c.instances.ops.model = "openai/gpt-4o"),
      "instances.ops.provider.apiKey",
      "provider",
    ],
    [
      "compatible needs baseUrl",
      (c) => (c.instances.ops.model = "openai-compatible/x"),
      "instances.ops.provider.baseUrl",
      "provider",
    ],
    [
      "literal api key",
      (c) => (c.instances.ops.provider = { apiKey: "abc" }),
      "instances.ops.provider.apiKey",
      "secret-ref",
    ],
    [
      "secret ref without key",
      (c) => (c.instances.ops.provider = { apiKey: { secret: "x" } }),
      "instances.ops.provider.apiKey.key",
      "required",
    ],
    [
      "secret ref bad name",
      (c) => (c.instances.ops.provider = { apiKey: { secret: "Bad_Name", key: "k" } }),
      "instances.ops.provider.apiKey.secret",
      "name",
    ],
    [
      "literal-looking secret anywhere",
      (c) => (c.instances.ops.description = "key sk-abcdefghijklmnopqrstuvwxyz123456"),
      "instances.ops.description",
      "no-literal-secrets",
    ],
    [
      "password in a URL",
      (c) => (c.instances.ops.provider = { baseUrl: "https://u:hunter2@llm.example.com/v1" }),
      "instances.ops.provider.baseUrl",
      "no-literal-secrets",
    ],
    ["instance name pattern", (c) => (c.instances.Ops = c.instances.ops), "instances.Ops", "name"],
    [
      "instance name too long",
      (c) => (c.instances["a".repeat(41)] = c.instances.ops),
      `instances.${"a".repeat(41)}`,
      "name",
    ],
    [
      "cron @every",
      (c) => (c.instances.ops.schedules[0].schedule = "@every 1h"),
      "instances.ops.schedules[0].schedule",
      "cron-every",
    ],
    [
      "cron field count",
      (c) => (c.instances.ops.schedules[0].schedule = "* * * *"),
      "instances.ops.schedules[0].schedule",
      "cron-syntax",
    ],
    [
      "cron out of range",
      (c) => (c.instances.ops.schedules[0].schedule = "61 * * * *"),
      "instances.ops.schedules[0].schedule",
      "cron-syntax",
    ],
    [
      "cron weekday 7 (robfig: 0-6)",
      (c) => (c.instances.ops.schedules[0].schedule = "0 0 * * 7"),
      "instances.ops.schedules[0].schedule",
      "cron-syntax",
    ],
    [
      "cron quartz L",
      (c) => (c.instances.ops.schedules[0].schedule = "0 0 L * *"),
      "instances.ops.schedules[0].schedule",
      "cron-syntax",
    ],
    [
      "cron never fires",
      (c) => (c.instances.ops.schedules[0].schedule = "0 0 31 2 *"),
      "instances.ops.schedules[0].schedule",
      "cron-never-fires",
    ],
    [
      "cron timezone twice",
      (c) => Object.assign(c.instances.ops.schedules[0], { schedule: "CRON_TZ=UTC * * * * *", timezone: "UTC" }),
      "instances.ops.schedules[0].schedule",
      "cron-timezone-twice",
    ],
    [
      "bad timezone",
      (c) => (c.instances.ops.schedules[0].timezone = "Mars/Olympus"),
      "instances.ops.schedules[0].timezone",
      "timezone",
    ],
    [
      "timezone wrong case",
      (c) => (c.instances.ops.schedules[0].timezone = "europe/paris"),
      "instances.ops.schedules[0].timezone",
      "timezone",
    ],
    [
      "bad tz prefix",
      (c) => (c.instances.ops.schedules[0].schedule = "TZ=Nowhere/Land 0 * * * *"),
      "instances.ops.schedules[0].schedule",
      "timezone",
    ],
    [
      "concurrencyPolicy",
      (c) => (c.instances.ops.schedules[0].concurrencyPolicy = "Skip"),
      "instances.ops.schedules[0].concurrencyPolicy",
      "enum",
    ],
    [
      "duplicate schedule",
      (c) => c.instances.ops.schedules.push({ name: "heartbeat", schedule: "@hourly", task: "t" }),
      "instances.ops.schedules[1].name",
      "unique",
    ],
    [
      "schedule without task",
      (c) => delete c.instances.ops.schedules[0].task,
      "instances.ops.schedules[0].task",
      "required",
    ],
    [
      "PingSource name too long",
      (c) => (c.instances.ops.schedules[0].name = "s".repeat(60)),
      "instances.ops.schedules[0].name",
      "name",
    ],
    ["policy missing", (c) => (c.instances.ops.policy = "nope"), "instances.ops.policy", "reference"],
    ["skill missing", (c) => c.instances.ops.skills.push("nope"), "instances.ops.skills[1]", "reference"],
    ["skill disabled", (c) => (c.skills.time.enabled = false), "instances.ops.skills[0]", "reference"],
    ["channel not configured", (c) => (c.instances.ops.channels = ["slack"]), "instances.ops.channels[0]", "reference"],
    ["channel type unknown", (c) => (c.instances.ops.channels = ["irc"]), "instances.ops.channels[0]", "enum"],
    ["channel key unknown", (c) => (c.channels = { irc: {} }), "channels.irc", "unknown-key"],
    [
      "channel missing secret",
      (c) => (c.channels = { slack: { defaultInstance: "ops", secrets: { botToken: { secret: "s", key: "k" } } } }),
      "channels.slack.secrets.signingSecret",
      "channel-secrets",
    ],
    [
      "channel missing setting",
      (c) => (c.channels = { discord: { defaultInstance: "ops", secrets: { botToken: { secret: "s", key: "k" } } } }),
      "channels.discord.settings.publicKey",
      "channel-settings",
    ],
    [
      "channel without route",
      (c) =>
        (c.channels = {
          telegram: { secrets: { botToken: { secret: "s", key: "k" }, webhookSecret: { secret: "s", key: "w" } } },
        }),
      "channels.telegram",
      "channel-route",
    ],
    [
      "webhook channel without hooks",
      (c) => (c.channels = { webhook: { secrets: { signingSecret: { secret: "s", key: "k" } } } }),
      "channels.webhook.hooks",
      "webhook-hooks",
    ],
    [
      "route to missing instance",
      (c) =>
        (c.channels = {
          webhook: {
            secrets: { signingSecret: { secret: "s", key: "k" } },
            routes: [{ sender: "a", instance: "ghost" }],
          },
        }),
      "channels.webhook.routes[0].instance",
      "reference",
    ],
    [
      "empty route match",
      (c) =>
        (c.channels = {
          webhook: { secrets: { signingSecret: { secret: "s", key: "k" } }, routes: [{ instance: "ops" }] },
        }),
      "channels.webhook.routes[0]",
      "channel-route",
    ],
    [
      "delivery duration",
      (c) => (c.broker = { delivery: { backoffDelay: "500ms" } }),
      "broker.delivery.backoffDelay",
      "duration",
    ],
    [
      "delivery zero timeout",
      (c) => (c.broker = { delivery: { timeout: "PT0S" } }),
      "broker.delivery.timeout",
      "duration",
    ],
    ["delivery negative retry", (c) => (c.broker = { delivery: { retry: -1 } }), "broker.delivery.retry", "range"],
    [
      "backoff policy",
      (c) => (c.broker = { delivery: { backoffPolicy: "fibonacci" } }),
      "broker.delivery.backoffPolicy",
      "enum",
    ],
    [
      "dead-letter sink ambiguity",
      (c) => (c.broker = { deadLetterSink: { function: {}, disabled: true } }),
      "broker.deadLetterSink",
      "dead-letter-sink",
    ],
    [
      "relative destination",
      (c) => (c.broker = { deadLetterSink: { destination: { uri: "/dlq" } } }),
      "broker.deadLetterSink.destination.uri",
      "destination",
    ],
    ["image reference", (c) => (c.images.default = "Not An Image!"), "images.default", "image-ref"],
    ["image digest malformed", (c) => (c.images.default = "knclaw@sha256:abc"), "images.default", "image-ref"],
    ["timeoutSeconds", (c) => (c.instances.ops.timeoutSeconds = 0), "instances.ops.timeoutSeconds", "range"],
    [
      "containerConcurrency",
      (c) => (c.instances.ops.containerConcurrency = 5000),
      "instances.ops.containerConcurrency",
      "range",
    ],
    ["autoscaling window", (c) => (c.instances.ops.window = "1 minute"), "instances.ops.window", "duration"],
    [
      "resource quantity",
      (c) => (c.instances.ops.resources = { limits: { memory: "lots" } }),
      "instances.ops.resources.limits.memory",
      "quantity",
    ],
    ["env name", (c) => (c.instances.ops.env = { "bad-name": "x" }), "instances.ops.env.bad-name", "name"],
    [
      "reserved env name",
      (c) => (c.instances.ops.env = { KNCLAW_INSTANCE: "x" }),
      "instances.ops.env.KNCLAW_INSTANCE",
      "name",
    ],
    [
      "egress needs one target",
      (c) => (c.instances.ops.egress = [{ host: "a.example.com", cidr: "10.0.0.0/8" }]),
      "instances.ops.egress[0]",
      "egress",
    ],
    [
      "egress host syntax",
      (c) => (c.instances.ops.egress = [{ host: "not a host" }]),
      "instances.ops.egress[0].host",
      "egress",
    ],
    [
      "external skill with local knobs",
      (c) =>
        (c.skills.time = {
          external: {
            url: "https://x.example.com",
            tools: [{ name: "t", description: "d", parameters: { type: "object" } }],
          },
          minScale: 1,
        }),
      "skills.time.minScale",
      "external-skill",
    ],
    [
      "external tool schema",
      (c) =>
        (c.skills.time = {
          external: {
            url: "https://x.example.com",
            tools: [{ name: "t", description: "d", parameters: { type: "string" } }],
          },
        }),
      "skills.time.external.tools[0].parameters",
      "json-schema",
    ],
    [
      "tool name",
      (c) =>
        (c.skills.time = {
          external: {
            url: "https://x.example.com",
            tools: [{ name: "bad tool", description: "d", parameters: { type: "object" } }],
          },
        }),
      "skills.time.external.tools[0].name",
      "tool-name",
    ],
    [
      "grant to missing instance",
      (c) =>
        (c.skills.time = {
          rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
          grants: { ghost: { namespaces: ["x"] } },
        }),
      "skills.time.grants.ghost",
      "reference",
    ],
    [
      "grants without rbac",
      (c) => (c.skills.time = { grants: { ops: { namespaces: ["x"] } } }),
      "skills.time.grants",
      "rbac",
    ],
    [
      "rbac verb",
      (c) => (c.skills.time = { rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["impersonate"] }] } }),
      "skills.time.rbac.rules[0].verbs[0]",
      "enum",
    ],
    [
      "policy contract",
      (c) => (c.policies.default = { budgets: { tokens: -5 } }),
      "policies.default.budgets.tokens",
      "range",
    ],
    ["policy unknown field", (c) => (c.policies.default = { tool: {} }), "policies.default.tool", "unknown-key"],
    ["namespace name", (c) => (c.metadata = { namespace: "Not_OK" }), "metadata.namespace", "name"],
    [
      "gateway token name",
      (c) => (c.gateway = { tokens: { "Admin Token": { secret: "g", key: "k" } } }),
      'gateway.tokens["Admin Token"]',
      "name",
    ],
    [
      "a rate limit for a token the gateway does not have",
      (c) =>
        (c.gateway = { tokens: { admin: { secret: "g", key: "k" } }, rateLimit: { tokens: { ci: { burst: 100 } } } }),
      "gateway.rateLimit.tokens.ci",
      "reference",
    ],
    [
      "a schedule answering on the receive-only webhook channel",
      (c) => (c.instances.ops.schedules[0].replyTo = { channel: "webhook", conversation: "alerts" }),
      "instances.ops.schedules[0].replyTo.channel",
      "reply-route",
    ],
    [
      "a heartbeat answering on a chat channel that is not configured",
      (c) => (c.instances.ops.schedules[0].replyTo = { channel: "telegram", conversation: "-1001234" }),
      "instances.ops.schedules[0].replyTo.channel",
      "reply-route",
    ],
    [
      "a hook answering on the receive-only webhook channel",
      (c) =>
        (c.channels = {
          webhook: {
            hooks: { alerts: { instance: "ops", task: "t", replyTo: { channel: "webhook", conversation: "x" } } },
          },
        }),
      "channels.webhook.hooks.alerts.replyTo.channel",
      "reply-route",
    ],
    ["type mismatch", (c) => (c.instances.ops.skills = "time"), "instances.ops.skills", "type"],
  ];

  it.each(cases)("%s -> %s names %s and rule %s", (_name, mutate, path, rule) => {
    const config = minimalConfig() as Record<string, any>;
    mutate(config);
    const issues = issuesOf(config);
    const hit = issues.find((i) => i.path === path && i.rule === rule);
    expect(hit, `issues were: ${JSON.stringify(issues)}`).toBeDefined();
    expect(hit!.message.length).toBeGreaterThan(3);
  });

  it("reports every problem at once, each with a line and column from the YAML", () => {
    const text = [
      "apiVersion: knclaw.dev/v1alpha1",
      "kind: Platform",
      "images: { default: knclaw:1 }",
      "policies: { default: {} }",
      "instances:",
      "  ops:",
      "    model: demo/echo",
      "    schedules:",
      "      - name: tick",
      "        schedule: '@every 5m'",
      "        task: go",
      "    colour: blue",
    ].join("\n");
    try {
      loadConfig(text);
      throw new Error("expected a ConfigError");
    } catch (error) {
      const issues = (error as ConfigError).issues;
      const cron = issues.find((i) => i.rule === "cron-every")!;
      expect(cron.path).toBe("instances.ops.schedules[0].schedule");
      expect(cron.line).toBe(10);
      const unknown = issues.find((i) => i.rule === "unknown-key")!;
      expect(unknown.path).toBe("instances.ops.colour");
      expect(unknown.line).toBe(12);
      expect((error as Error).message).toContain("instances.ops.schedules[0].schedule: cron-every");
    }
  });

  it("reports YAML syntax errors with line and column", () => {
    for (const [text, line] of [
      ["apiVersion: knclaw.dev/v1alpha1\nkind: Platform\ninstances: [unclosed\n", 3],
      ["a: 1\na: 2\n", 2],
      ["key: value: other\n", 1],
    ] as const) {
      try {
        loadConfig(text);
        throw new Error("expected a ConfigError");
      } catch (error) {
        const issue = (error as ConfigError).issues[0]!;
        expect(issue.rule).toBe("yaml-syntax");
        expect(issue.line).toBeGreaterThanOrEqual(line === 3 ? 3 : line);
        expect(issue.column).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it("refuses more than one YAML document and an empty file", () => {
    expect(() => loadConfig("kind: Platform\n---\nkind: Platform\n")).toThrow(/exactly one YAML document/);
    expect(() => loadConfig("# nothing\n\n")).toThrow(/empty/);
  });

  it("loads from a path and says so when the file is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-config-"));
    const file = join(dir, "knclaw.yaml");
    writeFileSync(file, stringify(minimalConfig()));
    expect(loadConfig(file).instances.ops?.model).toBe("demo/echo");
    expect(loadConfig({ path: file }).kind).toBe("Platform");
    expect(() => loadConfig(join(dir, "missing.yaml"))).toThrow(/no such file/);
    expect(defaultConfigPath.endsWith("knative/defaults/knclaw.yaml")).toBe(true);
  });

  it("takes a config without images (knclaw dev needs none); missingImages names each function without one", () => {
    const config = minimalConfig() as Record<string, unknown>;
    delete config.images;
    const loaded = validateConfigValue(config);
    const missing = missingImages(loaded);
    expect(missing.length).toBe(listFunctions(loaded).length);
    expect(missing[0]).toMatchObject({ path: "images", rule: "image-ref" });
    expect(() => requireImages(loaded, "knclaw.yaml")).toThrow(ConfigError);
    const placeholder = withPlaceholderImages(loaded);
    expect(missingImages(placeholder)).toEqual([]);
    expect(listFunctions(placeholder).map((fn) => resolveImage(placeholder, fn))).toEqual(
      listFunctions(placeholder).map(() => PLACEHOLDER_IMAGE),
    );
    // A config with its images keeps them.
    const full = validateConfigValue(fullConfig());
    expect(withPlaceholderImages(full)).toBe(full);
  });

  it("never echoes a detected secret in the error", () => {
    const config = minimalConfig() as Record<string, any>;
    const secret = "xoxb-1234567890-abcdefghijklmnop";
    config.instances.ops.description = secret;
    const issues = issuesOf(config);
    expect(issues.some((i) => i.rule === "no-literal-secrets")).toBe(true);
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it("warns about tag-only images, the embedded memory backend and a gateway without tokens", () => {
    const rules = configWarnings(loadConfig()).map((w) => w.rule);
    expect(rules).toEqual(expect.arrayContaining(["image-digest", "memory-backend"]));
    // The shipped config names a gateway token (`knclaw dev` generates it per session).
    expect(rules).not.toContain("gateway-auth");
    const tokenless = { ...minimalConfig(), gateway: { enabled: true, tokens: {} } };
    expect(configWarnings(validateConfigValue(tokenless)).map((w) => w.rule)).toContain("gateway-auth");
    const full = configWarnings(validateConfigValue(fullConfig())).map((w) => w.rule);
    expect(full).not.toContain("image-digest");
    expect(full).not.toContain("memory-backend");
  });

  it("exports a JSON Schema of the config for editors", () => {
    const schema = platformConfigJsonSchema() as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        "apiVersion",
        "broker",
        "memory",
        "gateway",
        "channels",
        "instances",
        "policies",
        "skills",
      ]),
    );
  });
});
