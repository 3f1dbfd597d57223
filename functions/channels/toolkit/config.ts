import { z } from "zod";
import { InstanceName } from "../../../eventing/catalog/shared.ts";
import type { ChannelGroups } from "./groups.ts";

const key = z.string().min(1).max(256);
/** Sender patterns: a platform user id, `<workspace>/<user id>`, `person:<knclaw person>`, or `*`. */
export const patterns = z.array(key).max(4096).default([]);

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

export const InstanceAccessLists = z.object({ allow: patterns, deny: patterns }).strict();

/**
 * What one channel adapter knows about the agent instances it serves: which workspace / chat / sender goes to which
 * instance, and who may talk (the `channels.<type>` section of knclaw.yaml; functions/channels/toolkit/env.ts reads
 * it from the adapter's environment).
 */
export interface ChannelAdapterConfig {
  /** First matching route wins, then `defaultInstance`. */
  routes: ChannelRoute[];
  defaultInstance?: string | undefined;
  access: AccessMode;
  /** Channel-wide lists, applying to every instance. */
  allow: string[];
  deny: string[];
  /** Per-instance lists, added to the channel-wide ones. */
  instances: Record<string, z.infer<typeof InstanceAccessLists>>;
  /** Which groups are answered and when (groups.ts); absent: every group, only when the bot is addressed. */
  groups?: ChannelGroups | undefined;
}

/** The lists and mode that apply to one instance: channel-wide and per-instance lists together. */
export interface InstanceAccess {
  mode: AccessMode;
  allow: string[];
  deny: string[];
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
