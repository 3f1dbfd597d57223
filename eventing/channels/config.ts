import { z } from "zod";
import { InstanceName } from "../catalog/shared.ts";

/**
 * What one channel adapter knows about the agent instances it serves: which workspace / chat / phone number goes to
 * which instance, and who may talk to each instance. The renderer writes it as JSON into the adapter's
 * `KNCLAW_CHANNEL_CONFIG` environment variable (it holds no secret; secrets come from the adapter's own Secret).
 */
export const CHANNEL_CONFIG_ENV = "KNCLAW_CHANNEL_CONFIG";

const key = z.string().min(1).max(256);

export const ChannelRoute = z
  .object({
    /** Slack team, Discord guild, WhatsApp business phone-number id, Telegram bot: whatever the platform scopes by. */
    workspace: key.optional(),
    /** Slack channel, Telegram chat id, Discord channel, WhatsApp sender number. */
    conversation: key.optional(),
    instance: InstanceName,
  })
  .strict();
export type ChannelRoute = z.infer<typeof ChannelRoute>;

/**
 * `pairing` (default): allow-listed and paired senders talk, unknown senders get a pairing code.
 * `allowlist`: only allow-listed senders talk; others are ignored. `open`: everyone but the deny-list talks.
 */
export const AccessMode = z.enum(["pairing", "allowlist", "open"]);
export type AccessMode = z.infer<typeof AccessMode>;

/** Sender patterns: a platform user id, `<workspace>/<user id>`, `person:<knclaw person>`, or `*`. */
export const InstanceAccess = z
  .object({
    mode: AccessMode.default("pairing"),
    allow: z.array(key).max(4096).default([]),
    deny: z.array(key).max(4096).default([]),
  })
  .strict();
export type InstanceAccess = z.infer<typeof InstanceAccess>;

export const ChannelAdapterConfig = z
  .object({
    /** First matching route wins; a route with no workspace and no conversation matches everything. */
    routes: z.array(ChannelRoute).max(4096).default([]),
    access: z.record(InstanceName, InstanceAccess).default({}),
  })
  .strict();
export type ChannelAdapterConfig = z.infer<typeof ChannelAdapterConfig>;

export function parseChannelConfig(raw: string | undefined): ChannelAdapterConfig {
  if (raw === undefined || raw.trim() === "") return ChannelAdapterConfig.parse({});
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`${CHANNEL_CONFIG_ENV} is not valid JSON`);
  }
  const parsed = ChannelAdapterConfig.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`${CHANNEL_CONFIG_ENV} is invalid: ${first?.path.join(".") || "(root)"}: ${first?.message}`);
  }
  return parsed.data;
}

/** The instance a workspace / conversation is routed to; undefined when no route matches. */
export function routeInstance(
  config: ChannelAdapterConfig,
  where: { workspace?: string | undefined; conversation: string },
): string | undefined {
  for (const route of config.routes) {
    if (route.workspace !== undefined && route.workspace !== where.workspace) continue;
    if (route.conversation !== undefined && route.conversation !== where.conversation) continue;
    return route.instance;
  }
  return undefined;
}

export function accessFor(config: ChannelAdapterConfig, instance: string): InstanceAccess {
  return config.access[instance] ?? InstanceAccess.parse({});
}
