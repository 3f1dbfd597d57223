import { z } from "zod";
import { InstanceName } from "../../../eventing/catalog/shared.ts";
import { jsonEnv } from "../../../runtime/json-env.ts";

/**
 * What one channel adapter knows about the agent instances it serves: which workspace / chat / sender goes to which
 * instance, and who may talk. The renderer writes the `channels.<type>` section of knclaw.yaml into the adapter's
 * environment (none of it is secret; secrets come from the adapter's own Secret):
 * - KNCLAW_CHANNEL_ROUTES: `{"routes": [...], "defaultInstance": "..."}`
 * - KNCLAW_CHANNEL_ALLOW / KNCLAW_CHANNEL_DENY: JSON arrays of sender patterns (channel-wide)
 * - KNCLAW_CHANNEL_ACCESS: `pairing` (default), `allowlist` or `open`
 * - KNCLAW_CHANNEL_INSTANCES: `{"<instance>": {"allow": [...], "deny": [...]}}` (per-instance lists)
 */
export const CHANNEL_ENV = {
  routes: "KNCLAW_CHANNEL_ROUTES",
  allow: "KNCLAW_CHANNEL_ALLOW",
  deny: "KNCLAW_CHANNEL_DENY",
  access: "KNCLAW_CHANNEL_ACCESS",
  instances: "KNCLAW_CHANNEL_INSTANCES",
} as const;

const key = z.string().min(1).max(256);
const patterns = z.array(key).max(4096).default([]);

export const ChannelRoute = z
  .object({
    /** Slack team, Discord guild, WhatsApp business phone-number id. */
    workspace: key.optional(),
    /** Slack channel, Telegram chat id, Discord channel, WhatsApp sender number. */
    conversation: key.optional(),
    /** A platform user id. */
    sender: key.optional(),
    instance: InstanceName,
  })
  .strict();
export type ChannelRoute = z.infer<typeof ChannelRoute>;

/**
 * `pairing` (default): allow-listed and paired senders talk; an unknown sender gets a pairing code.
 * `allowlist`: only allow-listed (or paired) senders talk; others are ignored.
 * `open`: everyone but the deny-list talks.
 */
export const AccessMode = z.enum(["pairing", "allowlist", "open"]);
export type AccessMode = z.infer<typeof AccessMode>;

/** Sender patterns: a platform user id, `<workspace>/<user id>`, `person:<knclaw person>`, or `*`. */
export const InstanceAccessLists = z.object({ allow: patterns, deny: patterns }).strict();

export const ChannelAdapterConfig = z
  .object({
    /** First matching route wins, then `defaultInstance`. */
    routes: z.array(ChannelRoute).max(4096).default([]),
    defaultInstance: InstanceName.optional(),
    access: AccessMode.default("pairing"),
    /** Channel-wide lists, applying to every instance. */
    allow: patterns,
    deny: patterns,
    /** Per-instance lists, added to the channel-wide ones. */
    instances: z.record(InstanceName, InstanceAccessLists).default({}),
  })
  .strict();
export type ChannelAdapterConfig = z.infer<typeof ChannelAdapterConfig>;

/** The lists and mode that apply to one instance: channel-wide and per-instance lists together. */
export interface InstanceAccess {
  mode: AccessMode;
  allow: string[];
  deny: string[];
}

/** The adapter's routing and access configuration from its environment; throws naming the variable at fault. */
export function channelConfigFromEnv(env: Readonly<Record<string, string | undefined>>): ChannelAdapterConfig {
  const routing = jsonEnv(env, CHANNEL_ENV.routes) ?? {};
  if (typeof routing !== "object" || routing === null || Array.isArray(routing)) {
    throw new Error(`${CHANNEL_ENV.routes} must be a JSON object {"routes": [...], "defaultInstance": "..."}`);
  }
  const access = env[CHANNEL_ENV.access];
  const candidate = {
    ...routing,
    ...(access !== undefined && access !== "" ? { access } : {}),
    ...(env[CHANNEL_ENV.allow] ? { allow: jsonEnv(env, CHANNEL_ENV.allow) } : {}),
    ...(env[CHANNEL_ENV.deny] ? { deny: jsonEnv(env, CHANNEL_ENV.deny) } : {}),
    ...(env[CHANNEL_ENV.instances] ? { instances: jsonEnv(env, CHANNEL_ENV.instances) } : {}),
  };
  const parsed = ChannelAdapterConfig.safeParse(candidate);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const field = String(first?.path[0] ?? "routes");
    const variable = field in CHANNEL_ENV ? CHANNEL_ENV[field as keyof typeof CHANNEL_ENV] : CHANNEL_ENV.routes;
    throw new Error(`${variable} is invalid: ${first?.path.join(".") || "(root)"}: ${first?.message}`);
  }
  return parsed.data;
}

/** The instance a message is routed to; undefined when no route matches and there is no default. */
export function routeInstance(
  config: ChannelAdapterConfig,
  where: { workspace?: string | undefined; conversation: string; sender?: string | undefined },
): string | undefined {
  for (const route of config.routes) {
    if (route.workspace !== undefined && route.workspace !== where.workspace) continue;
    if (route.conversation !== undefined && route.conversation !== where.conversation) continue;
    if (route.sender !== undefined && route.sender !== where.sender) continue;
    return route.instance;
  }
  return config.defaultInstance;
}

export function accessFor(config: ChannelAdapterConfig, instance: string): InstanceAccess {
  const own = config.instances[instance];
  return {
    mode: config.access,
    allow: [...config.allow, ...(own?.allow ?? [])],
    deny: [...config.deny, ...(own?.deny ?? [])],
  };
}
