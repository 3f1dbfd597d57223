import { describe, expect, it } from "vitest";
import { channelConfigFromEnv } from "../../../functions/channels/toolkit/env.ts";
import { WebhookHooks } from "../../../functions/channels/toolkit/webhook-hooks.ts";
import { loadGatewayConfig } from "../../../functions/gateway/config.ts";
import { validateConfigValue } from "../../../knative/config/index.ts";
import { render } from "../../../knative/render/index.ts";

const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function config(channels: Record<string, unknown>) {
  return validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    policies: { default: { tools: { allow: ["time.*"] } } },
    skills: { time: {} },
    instances: { ops: { model: "demo/echo", skills: ["time"] }, dev: { model: "demo/echo", skills: ["time"] } },
    gateway: {
      tokens: { admin: { secret: "gateway", key: "admin" }, "ci-bot": { secret: "gateway", key: "ci" } },
      rateLimit: { requestsPerMinute: 30 },
      corsOrigins: ["https://console.example"],
    },
    channels,
  });
}

type Obj = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
};

function envOf(objects: Obj[], name: string): Record<string, string> {
  const service = objects.find((o) => o.kind === "Service" && o.metadata.name === name)!;
  const container = (
    service.spec.template as { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } }
  ).spec.containers[0]!;
  return Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

describe("channel and gateway rendering", () => {
  const objects = render(
    config({
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        routes: [{ workspace: "T1", instance: "ops" }],
        defaultInstance: "dev",
        access: "allowlist",
        allow: ["U1"],
        instances: { ops: { allow: ["U2"], deny: ["U3"] } },
        groupPolicy: "allowlist",
        groups: { C42: { requireMention: false }, "*": {} },
      },
      webhook: {
        secrets: { githubSecret: { secret: "hooks", key: "github" } },
        hooks: {
          github: { instance: "dev", task: "Review {{pull_request.title}}", secret: "githubSecret", scheme: "github" },
        },
      },
    }),
  ) as unknown as Obj[];

  it("gives each adapter an env its createApp reads back to the same routing and access", () => {
    const env = envOf(objects, "channel-slack");
    const adapterConfig = channelConfigFromEnv(env);
    expect(adapterConfig).toEqual({
      routes: [{ workspace: "T1", instance: "ops" }],
      defaultInstance: "dev",
      access: "allowlist",
      allow: ["U1"],
      deny: [],
      instances: { ops: { allow: ["U2"], deny: ["U3"] } },
      groups: { policy: "allowlist", groups: { C42: { requireMention: false }, "*": { requireMention: true } } },
    });
    // A channel that keeps the default group policy gets no variable: the adapter's default is the same.
    expect(envOf(objects, "channel-webhook").KNCLAW_CHANNEL_GROUPS).toBeUndefined();
    const hooks = WebhookHooks.parse(JSON.parse(envOf(objects, "channel-webhook").KNCLAW_WEBHOOK_HOOKS!));
    expect(hooks.github).toMatchObject({ instance: "dev", scheme: "github", secret: "githubSecret" });
  });

  it("makes only the webhook endpoints public and declares their dev paths", () => {
    for (const name of ["channel-slack", "channel-webhook"]) {
      const service = objects.find((o) => o.kind === "Service" && o.metadata.name === name)!;
      expect(service.metadata.labels?.["networking.knative.dev/visibility"]).toBeUndefined();
      expect(service.metadata.annotations?.["knclaw.dev/dev-path-prefix"]).toBe(
        `/channels/${name.slice("channel-".length)}`,
      );
    }
    const gateway = objects.find((o) => o.kind === "Service" && o.metadata.name === "gateway")!;
    expect(gateway.metadata.annotations?.["knclaw.dev/dev-path-prefix"]).toBe("/api/v1,/v1,/mcp,/console,/");
    const agent = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-ops")!;
    expect(agent.metadata.labels?.["networking.knative.dev/visibility"]).toBe("cluster-local");
  });

  it("binds adapters and the gateway to the broker (SinkBinding) and routes their events to them (Triggers)", () => {
    const bound = objects
      .filter((o) => o.kind === "SinkBinding")
      .map((o) => (o.spec.subject as { name?: string }).name)
      .sort();
    expect(bound).toEqual(expect.arrayContaining(["channel-slack", "channel-webhook", "gateway"]));
    const triggers = objects.filter((o) => o.kind === "Trigger");
    const slackTypes = triggers
      .filter((t) => (t.spec.subscriber as { ref: { name: string } }).ref.name === "channel-slack")
      .map((t) => (t.spec.filter as { attributes: Record<string, string> }).attributes);
    expect(slackTypes).toEqual(
      expect.arrayContaining([
        { type: "dev.knclaw.message.send", knclawchannel: "slack" },
        { type: "dev.knclaw.approval.requested", knclawchannel: "slack" },
        { type: "dev.knclaw.approval.resolved", knclawchannel: "slack" },
      ]),
    );
    const gatewayTypes = triggers
      .filter((t) => (t.spec.subscriber as { ref: { name: string } }).ref.name === "gateway")
      .map((t) => (t.spec.filter as { attributes: Record<string, string> }).attributes.type);
    expect(gatewayTypes).toEqual(
      expect.arrayContaining([
        "dev.knclaw.message.send",
        "dev.knclaw.approval.requested",
        "dev.knclaw.approval.resolved",
        "dev.knclaw.run.completed",
        "dev.knclaw.run.failed",
      ]),
    );
  });

  it("gives the gateway an env its config loader reads back (token secrets by name, limits, CORS)", () => {
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "gateway")!;
    const env = (
      service.spec.template as { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } }
    ).spec.containers[0]!.env;
    const values: Record<string, string> = {};
    for (const item of env) values[item.name] = item.value ?? `secret-value-for-${item.name.toLowerCase()}`;
    const gateway = loadGatewayConfig(values);
    expect([...gateway.tokens.keys()].sort()).toEqual(["admin", "ci-bot"]);
    expect(gateway.rateLimit).toEqual({ requestsPerMinute: 30, burst: 30 });
    expect([...gateway.corsOrigins]).toEqual(["https://console.example"]);
    expect([...gateway.instances].sort()).toEqual(["dev", "ops"]);
    expect(gateway.maxWaitSeconds).toBe(120);
  });

  it("refuses a webhook hook whose secret is not referenced, or whose instance does not exist", () => {
    expect(() => config({ webhook: { secrets: {}, hooks: { a: { instance: "ops", task: "t" } } } })).toThrow(
      /secrets\.signingSecret/,
    );
    expect(() =>
      config({
        webhook: {
          secrets: { signingSecret: { secret: "s", key: "k" } },
          hooks: { a: { instance: "nope", task: "t" } },
        },
      }),
    ).toThrow(/no instance named "nope"/);
  });
});
