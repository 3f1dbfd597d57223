/**
 * Container environment per function. Secrets are always `secretKeyRef`s; structured settings travel as JSON.
 * K_SINK / K_CE_OVERRIDES are not set here: the SinkBinding injects them for producers.
 */

import { parseIsoDuration } from "../../runtime/duration.ts";
import {
  DEFAULT_AGENT_KEYS_SECRET,
  DEFAULT_DEADLETTER_TOKEN,
  ENV,
  MEMORY_TOKEN_SECRET_KEY,
  upperSnake,
} from "../../runtime/names.ts";
import { builtinSkillDescriptor } from "../config/builtin-skills.ts";
import type { FunctionSpec } from "../config/functions.ts";
import type { SecretRef } from "../config/primitives.ts";
import { findFunction, type RenderContext, serviceUrl } from "./context.ts";
import { skillManifestEnv } from "./skills.ts";

export type EnvVar =
  | { name: string; value: string }
  | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } };

function plain(name: string, value: string): EnvVar {
  return { name, value };
}

function secret(name: string, ref: SecretRef, optional = false): EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key, ...(optional ? { optional } : {}) } } };
}

/** Stable JSON: object keys sorted, so the same config always renders the same bytes. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function functionEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  const config = ctx.config;
  const env: EnvVar[] = [
    plain(ENV.entry, fn.entry),
    plain(ENV.component, fn.component),
    plain(ENV.platform, config.metadata.name),
    plain(ENV.namespace, ctx.namespace),
    plain(ENV.broker, ctx.brokerName),
  ];
  if (fn.memoryClient) {
    env.push(plain(ENV.memoryUrl, serviceUrl(ctx, "memory")));
    env.push(secret(ENV.memoryToken, { secret: config.memory.tokenSecret, key: fn.name }));
  }
  switch (fn.component) {
    case "memory":
      env.push(...memoryEnv(ctx));
      break;
    case "agent":
      env.push(...agentEnv(ctx, fn.instance!));
      break;
    case "channel":
      env.push(...channelEnv(ctx, fn));
      break;
    case "gateway":
      env.push(...gatewayEnv(ctx));
      break;
    case "skill":
      env.push(...skillEnv(ctx, fn.skill!));
      break;
    case "deadletter":
      env.push(...deadletterEnv(ctx));
      break;
  }
  for (const [name, value] of Object.entries(fn.knobs.env).sort(([a], [b]) => (a < b ? -1 : 1)))
    env.push(plain(name, value));
  for (const [name, ref] of Object.entries(fn.knobs.secretEnv).sort(([a], [b]) => (a < b ? -1 : 1)))
    env.push(secret(name, ref));
  return env;
}

function memoryEnv(ctx: RenderContext): EnvVar[] {
  const memory = ctx.config.memory;
  const env: EnvVar[] = [secret(ENV.memoryTokenSecret, { secret: memory.tokenSecret, key: MEMORY_TOKEN_SECRET_KEY })];
  if (memory.redis === undefined) {
    env.unshift(plain(ENV.memoryBackend, "embedded"));
  } else {
    env.unshift(plain(ENV.memoryBackend, "redis"));
    env.push(secret(ENV.redisUrl, memory.redis.url), plain(ENV.redisKeyPrefix, memory.redis.keyPrefix));
  }
  return env;
}

function agentEnv(ctx: RenderContext, name: string): EnvVar[] {
  const config = ctx.config;
  const instance = config.instances[name]!;
  const env: EnvVar[] = [plain(ENV.instance, name), plain(ENV.model, instance.model)];
  if (instance.provider.baseUrl !== undefined) env.push(plain(ENV.providerBaseUrl, instance.provider.baseUrl));
  if (instance.provider.apiKey !== undefined) env.push(secret(ENV.providerApiKey, instance.provider.apiKey));
  env.push(plain(ENV.policyName, instance.policy));
  env.push(plain(ENV.policy, stableJson(config.policies[instance.policy] ?? {})));
  env.push(plain(ENV.skills, stableJson(instance.skills)));
  const externalTools: Record<string, unknown> = {};
  for (const skill of instance.skills) {
    const external = config.skills[skill]?.external;
    if (external !== undefined) externalTools[skill] = external.tools;
  }
  if (Object.keys(externalTools).length > 0) env.push(plain(ENV.externalTools, stableJson(externalTools)));
  // Bundled agents have no skills/ folder to read SKILL.md and tool schemas from: they travel with the ksvc.
  const catalog = instance.skills.flatMap((skill) =>
    config.skills[skill]?.external === undefined ? (builtinSkillDescriptor(skill) ?? []) : [],
  );
  if (catalog.length > 0) env.push(plain(ENV.skillCatalog, stableJson(catalog)));
  env.push(plain(ENV.channels, stableJson(instance.channels)));
  const schedules: Record<string, unknown> = {};
  for (const schedule of instance.schedules) {
    schedules[schedule.name] = { task: schedule.task, concurrencyPolicy: schedule.concurrencyPolicy };
  }
  env.push(plain(ENV.schedules, stableJson(schedules)));
  env.push(secret(ENV.signingKey, instance.signingKey ?? { secret: DEFAULT_AGENT_KEYS_SECRET, key: name }));
  if (instance.agent !== undefined) env.push(plain(ENV.agentSettings, stableJson(instance.agent)));
  return env;
}

function channelEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  const channel = ctx.config.channels[fn.channel!]!;
  const env: EnvVar[] = [plain(ENV.channelType, fn.channel!)];
  for (const [key, value] of Object.entries(channel.settings).sort(([a], [b]) => (a < b ? -1 : 1))) {
    env.push(plain(upperSnake(key), value));
  }
  for (const [key, ref] of Object.entries(channel.secrets).sort(([a], [b]) => (a < b ? -1 : 1))) {
    env.push(secret(upperSnake(key), ref));
  }
  env.push(plain(ENV.channelRoutes, stableJson({ routes: channel.routes, defaultInstance: channel.defaultInstance })));
  env.push(plain(ENV.channelAllow, stableJson(channel.allow)));
  env.push(plain(ENV.channelDeny, stableJson(channel.deny)));
  env.push(plain(ENV.channelAccess, channel.access));
  if (Object.keys(channel.instances).length > 0) env.push(plain(ENV.channelInstances, stableJson(channel.instances)));
  if (fn.channel === "webhook") env.push(plain(ENV.webhookHooks, stableJson(channel.hooks)));
  return env;
}

function gatewayEnv(ctx: RenderContext): EnvVar[] {
  const gateway = ctx.config.gateway;
  const names = Object.keys(gateway.tokens).sort();
  const env: EnvVar[] = [
    plain(ENV.instances, stableJson(Object.keys(ctx.config.instances).sort())),
    plain(ENV.gatewayTokens, names.join(",")),
    plain(ENV.gatewayRateLimit, stableJson(gateway.rateLimit)),
    plain(ENV.gatewayMaxWaitSeconds, String(gateway.maxWaitSeconds)),
  ];
  if (gateway.corsOrigins.length > 0) env.push(plain(ENV.gatewayCorsOrigins, stableJson(gateway.corsOrigins)));
  for (const name of names)
    env.push(secret(`${ENV.gatewayTokenPrefix}${upperSnake(name.replace(/-/g, "_"))}`, gateway.tokens[name]!));
  if (findFunction(ctx, "deadletter") !== undefined) env.push(plain(ENV.deadletterUrl, serviceUrl(ctx, "deadletter")));
  return env;
}

/**
 * The deadletter function: its operator API token (the configured Secret reference, else the default one marked
 * optional so that a missing Secret leaves the API off instead of the pod unable to start) and its retention.
 */
function deadletterEnv(ctx: RenderContext): EnvVar[] {
  const sink = ctx.config.broker.deadLetterSink;
  const env: EnvVar[] = [
    sink.apiToken === undefined
      ? secret(ENV.deadletterToken, DEFAULT_DEADLETTER_TOKEN, true)
      : secret(ENV.deadletterToken, sink.apiToken),
  ];
  const retention = sink.retention ?? {};
  if (retention.maxEntries !== undefined) env.push(plain(ENV.deadletterMaxEntries, String(retention.maxEntries)));
  if (retention.maxAge !== undefined) {
    env.push(plain(ENV.deadletterMaxAgeMs, String(Math.round(parseIsoDuration(retention.maxAge)!.ms))));
  }
  return env;
}

function skillEnv(ctx: RenderContext, name: string): EnvVar[] {
  const config = ctx.config;
  const skill = config.skills[name]!;
  const keys: Record<string, string> = {};
  for (const [instanceName, instance] of Object.entries(config.instances)) {
    if (instance.skills.includes(name) && instance.publicKey !== undefined) keys[instanceName] = instance.publicKey;
  }
  const env: EnvVar[] = [plain(ENV.skill, name)];
  if (Object.keys(keys).length > 0) env.push(plain(ENV.agentKeys, stableJson(keys)));
  if (Object.keys(skill.grants).length > 0) env.push(plain(ENV.skillGrants, stableJson(skill.grants)));
  env.push(...skillManifestEnv(ctx, name));
  return env;
}
