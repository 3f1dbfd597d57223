/**
 * Container environment per function, written from each function's env contract (functions/<name>/env.ts,
 * functions/channels/toolkit/env.ts, skills/runtime/env.ts): the contract fixes the names, the encodings (Secrets are
 * always `secretKeyRef`s, structured settings JSON) and the order. K_SINK / K_CE_OVERRIDES are not set here: the
 * SinkBinding injects them for producers.
 */

import { channelRole, GATEWAY_ROLE, MEMORY_ROLE, skillRole } from "../../eventing/trust/roles.ts";
import { agentEnv } from "../../functions/agent/env.ts";
import { channelEnv, platformVariable } from "../../functions/channels/toolkit/env.ts";
import { deadletterEnv } from "../../functions/deadletter/env.ts";
import { gatewayEnv, tokenSuffix } from "../../functions/gateway/env.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { parseIsoDuration } from "../../runtime/duration.ts";
import type { EnvVar } from "../../runtime/env-contract.ts";
import { DEFAULT_AGENT_KEYS_SECRET, DEFAULT_DEADLETTER_TOKEN, MEMORY_TOKEN_SECRET_KEY } from "../../runtime/names.ts";
import { platformEnv, telemetryEnv } from "../../runtime/platform-env.ts";
import { headerSuffix, mcpEnv } from "../../skills/mcp/env.ts";
import type { McpServerSettingsInput } from "../../skills/mcp/settings.ts";
import { configPathSet } from "../../skills/package/gating.ts";
import { discoverSkillDocs } from "../../skills/package/loader.ts";
import { skillEnv } from "../../skills/runtime/env.ts";
import { builtinSkillDescriptor } from "../config/builtin-skills.ts";
import type { FunctionSpec } from "../config/functions.ts";
import type { PlatformConfig } from "../config/schema.ts";
import type { McpServerConfig } from "../config/sections/skills.ts";
import { findFunction, type RenderContext, serviceUrl } from "./context.ts";
import { deliveryAuthEnv } from "./delivery-auth.ts";
import { EVENT_TRUST_BUNDLE, eventSigningKeyRef } from "./event-keys.ts";
import { agentSkillFolders } from "./skill-folders.ts";
import { skillManifestEnv } from "./skills.ts";

export function functionEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  const config = ctx.config;
  const env: EnvVar[] = platformEnv.render({
    entry: fn.entry,
    component: fn.component,
    platform: config.metadata.name,
    namespace: ctx.namespace,
    broker: ctx.brokerName,
    ...(fn.memoryClient
      ? { memoryUrl: serviceUrl(ctx, "memory"), memoryToken: { secret: config.memory.tokenSecret, key: fn.name } }
      : {}),
  });
  env.push(...deliveryAuthEnv(ctx, fn), ...functionTelemetryEnv(ctx, fn));
  switch (fn.component) {
    case "memory":
      env.push(...memoryServiceEnv(ctx));
      break;
    case "agent":
      env.push(...agentServiceEnv(ctx, fn.instance!));
      break;
    case "channel":
      env.push(...channelServiceEnv(ctx, fn));
      break;
    case "gateway":
      env.push(...gatewayServiceEnv(ctx));
      break;
    case "skill":
      env.push(...skillServiceEnv(ctx, fn.skill!));
      break;
    case "deadletter":
      env.push(...deadletterServiceEnv(ctx));
      break;
  }
  for (const [name, value] of Object.entries(fn.knobs.env).sort(([a], [b]) => (a < b ? -1 : 1)))
    env.push({ name, value });
  for (const [name, ref] of Object.entries(fn.knobs.secretEnv).sort(([a], [b]) => (a < b ? -1 : 1)))
    env.push({ name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } });
  return env;
}

/** The OpenTelemetry variables of the `telemetry` section, with the function's own service name. */
function functionTelemetryEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  const telemetry = ctx.config.telemetry;
  if (telemetry === undefined) return [];
  const attributes = Object.entries(telemetry.resourceAttributes).sort(([a], [b]) => (a < b ? -1 : 1));
  return telemetryEnv.render({
    endpoint: telemetry.endpoint,
    protocol: telemetry.protocol,
    headers: telemetry.headers,
    serviceName: fn.name,
    sampler: telemetry.sampler,
    samplerArg: telemetry.samplerArg === undefined ? undefined : String(telemetry.samplerArg),
    resourceAttributes:
      attributes.length === 0 ? undefined : attributes.map(([key, value]) => `${key}=${value}`).join(","),
    metricExportInterval:
      telemetry.metricExportIntervalSeconds === undefined
        ? undefined
        : String(telemetry.metricExportIntervalSeconds * 1000),
  });
}

function memoryServiceEnv(ctx: RenderContext): EnvVar[] {
  const memory = ctx.config.memory;
  return memoryEnv.render({
    backend: memory.redis === undefined ? "embedded" : "redis",
    tokenSecret: { secret: memory.tokenSecret, key: MEMORY_TOKEN_SECRET_KEY },
    redisUrl: memory.redis?.url,
    keyPrefix: memory.redis?.keyPrefix,
    // It signs the timers it fires.
    eventSigningKey: eventSigningKeyRef(MEMORY_ROLE),
  });
}

function agentServiceEnv(ctx: RenderContext, name: string): EnvVar[] {
  const config = ctx.config;
  const instance = config.instances[name]!;
  const externalTools = Object.fromEntries(
    instance.skills.flatMap((skill) => {
      const external = config.skills[skill]?.external;
      return external === undefined ? [] : [[skill, external.tools] as const];
    }),
  );
  // Bundled agents have no skills/ folder to read SKILL.md and tool schemas from: they travel with the ksvc.
  const catalog = instance.skills.flatMap((skill) =>
    config.skills[skill]?.external === undefined && config.skills[skill]?.mcp === undefined
      ? (builtinSkillDescriptor(skill) ?? [])
      : [],
  );
  // An MCP skill's tools are known only once its server is asked: the agent reads them from the skill function.
  const endpoints = Object.fromEntries(
    instance.skills
      .filter((skill) => config.skills[skill]?.mcp !== undefined && config.skills[skill]?.enabled !== false)
      .map((skill) => [skill, serviceUrl(ctx, `skill-${skill}`)] as const),
  );
  const schedules = Object.fromEntries(
    instance.schedules.map(({ name, task, concurrencyPolicy, replyTo }) => [
      name,
      { task, concurrencyPolicy, ...(replyTo !== undefined ? { replyTo } : {}) },
    ]),
  );
  return agentEnv.render({
    instance: name,
    model: instance.model,
    baseUrl: instance.provider.baseUrl,
    apiKey: instance.provider.apiKey,
    policyName: instance.policy,
    policy: config.policies[instance.policy] ?? {},
    skills: instance.skills,
    externalTools: Object.keys(externalTools).length > 0 ? externalTools : undefined,
    skillCatalog: catalog.length > 0 ? catalog : undefined,
    skillEndpoints: Object.keys(endpoints).length > 0 ? endpoints : undefined,
    skillFolders: agentSkillFolders(ctx, name),
    configPathsSet: folderSkillConfigPaths(config, instance.skills),
    channels: instance.channels,
    schedules,
    signingKey: instance.signingKey ?? { secret: DEFAULT_AGENT_KEYS_SECRET, key: name },
    eventKeys: EVENT_TRUST_BUNDLE,
    settings: instance.agent,
  });
}

/**
 * The `requires.config` paths of the instance's folder skills that knclaw.yaml sets: the agent has no knclaw.yaml
 * to check them against, so the renderer, which reads the skill folders as the agent will, tells it.
 */
function folderSkillConfigPaths(config: PlatformConfig, skills: readonly string[]): string[] | undefined {
  const named = skills.filter((skill) => config.skills[skill] === undefined);
  if (named.length === 0 || config.skillFolders.length === 0) return undefined;
  const docs = discoverSkillDocs(config.skillFolders);
  const paths = named.flatMap((skill) => docs.get(skill)?.doc.gating?.requires?.config ?? []);
  const set = [...new Set(paths)].filter((path) => configPathSet(config, path)).sort();
  return set.length > 0 ? set : undefined;
}

function channelServiceEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  const channel = ctx.config.channels[fn.channel!]!;
  const byKey = <T>(record: Record<string, T>) => Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));
  return [
    ...channelEnv.render({
      eventKeys: EVENT_TRUST_BUNDLE,
      eventSigningKey: eventSigningKeyRef(channelRole(fn.channel!)),
      type: fn.channel!,
    }),
    ...byKey(channel.settings).map(([key, value]) => channelEnv.renderFamily("setting", platformVariable(key), value)),
    ...byKey(channel.secrets).map(([key, ref]) => channelEnv.renderFamily("secret", platformVariable(key), ref)),
    ...channelEnv.render({
      routes: { routes: channel.routes, defaultInstance: channel.defaultInstance },
      allow: channel.allow,
      deny: channel.deny,
      access: channel.access,
      instances: Object.keys(channel.instances).length > 0 ? channel.instances : undefined,
      groups:
        channel.groupPolicy !== "open" || Object.keys(channel.groups).length > 0
          ? { policy: channel.groupPolicy, groups: channel.groups }
          : undefined,
      webhookHooks: fn.channel === "webhook" ? channel.hooks : undefined,
    }),
  ];
}

function gatewayServiceEnv(ctx: RenderContext): EnvVar[] {
  const gateway = ctx.config.gateway;
  const names = Object.keys(gateway.tokens).sort();
  return [
    ...gatewayEnv.render({
      eventKeys: EVENT_TRUST_BUNDLE,
      eventSigningKey: eventSigningKeyRef(GATEWAY_ROLE),
      instances: Object.keys(ctx.config.instances).sort(),
      tokenNames: names.join(","),
      rateLimit: gateway.rateLimit,
      maxWaitSeconds: gateway.maxWaitSeconds,
      redriveAfterSeconds: gateway.redriveAfterSeconds,
      corsOrigins: gateway.corsOrigins.length > 0 ? gateway.corsOrigins : undefined,
    }),
    ...names.map((name) => gatewayEnv.renderFamily("token", tokenSuffix(name), gateway.tokens[name]!)),
    ...gatewayEnv.render({
      deadletterUrl: findFunction(ctx, "deadletter") === undefined ? undefined : serviceUrl(ctx, "deadletter"),
      // The same Secret key the deadletter function reads, so the console reaches its operator API.
      deadletterToken:
        findFunction(ctx, "deadletter") === undefined
          ? undefined
          : (ctx.config.broker.deadLetterSink.apiToken ?? { ...DEFAULT_DEADLETTER_TOKEN, optional: true }),
      instanceDetails: instanceDetails(ctx),
    }),
  ];
}

/** What the operator console shows of each instance (functions/gateway/env.ts, KNCLAW_INSTANCE_DETAILS). */
function instanceDetails(ctx: RenderContext) {
  const config = ctx.config;
  return Object.fromEntries(
    Object.keys(config.instances)
      .sort()
      .map((name) => {
        const instance = config.instances[name]!;
        const budgets = config.policies[instance.policy]?.budgets;
        return [
          name,
          {
            model: instance.model,
            policy: instance.policy,
            skills: instance.skills,
            channels: instance.channels,
            ...(budgets !== undefined ? { budgets } : {}),
          },
        ] as const;
      }),
  );
}

/**
 * The deadletter function: its operator API token (the configured Secret reference, else the default one marked
 * optional so that a missing Secret leaves the API off instead of the pod unable to start) and its retention.
 */
function deadletterServiceEnv(ctx: RenderContext): EnvVar[] {
  const sink = ctx.config.broker.deadLetterSink;
  const retention = sink.retention ?? {};
  return deadletterEnv.render({
    apiToken: sink.apiToken ?? { ...DEFAULT_DEADLETTER_TOKEN, optional: true },
    maxEntries: retention.maxEntries,
    maxAgeMs: retention.maxAge === undefined ? undefined : Math.round(parseIsoDuration(retention.maxAge)!.ms),
  });
}

function skillServiceEnv(ctx: RenderContext, name: string): EnvVar[] {
  const config = ctx.config;
  const skill = config.skills[name]!;
  const keys: Record<string, string> = {};
  for (const [instanceName, instance] of Object.entries(config.instances)) {
    if (instance.skills.includes(name) && instance.publicKey !== undefined) keys[instanceName] = instance.publicKey;
  }
  return [
    ...skillEnv.render({
      skill: name,
      agentKeys: Object.keys(keys).length > 0 ? keys : undefined,
      eventKeys: EVENT_TRUST_BUNDLE,
      eventSigningKey: eventSigningKeyRef(skillRole(name)),
      grants: Object.keys(skill.grants).length > 0 ? skill.grants : undefined,
    }),
    ...skillManifestEnv(ctx, name),
    ...(skill.mcp === undefined ? [] : mcpServiceEnv(skill.mcp)),
  ];
}

/**
 * An MCP skill's server settings (skills/mcp/settings.ts) without secret values: each credential is a Secret
 * reference in a variable of its own, and the settings name only which ones to read.
 */
function mcpServiceEnv(server: McpServerConfig): EnvVar[] {
  const common = { allow: server.allow, deny: server.deny, tools: server.tools, timeoutSeconds: server.timeoutSeconds };
  const headers = Object.keys(server.headers).sort();
  const secretEnv = Object.entries(server.secretEnv).sort(([a], [b]) => (a < b ? -1 : 1));
  const settings: McpServerSettingsInput =
    server.transport === "stdio"
      ? {
          transport: "stdio",
          command: server.command!,
          args: server.args,
          env: server.env,
          passEnv: secretEnv.map(([variable]) => variable),
          ...common,
        }
      : {
          transport: "http",
          url: server.url!,
          headers,
          bearer: server.bearer !== undefined,
          ...(server.oauth === undefined
            ? {}
            : {
                oauth: {
                  clientId: server.oauth.clientId,
                  issuer: server.oauth.issuer,
                  ...(server.oauth.scope === undefined ? {} : { scope: server.oauth.scope }),
                },
              }),
          ...common,
        };
  return [
    ...mcpEnv.render({ server: settings, bearer: server.bearer, oauthClientSecret: server.oauth?.clientSecret }),
    ...headers.map((header) => mcpEnv.renderFamily("header", headerSuffix(header), server.headers[header]!)),
    ...secretEnv.map(([variable, ref]) => ({
      name: variable,
      valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } },
    })),
  ];
}
