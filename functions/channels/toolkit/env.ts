import { z } from "zod";
import { InstanceName } from "../../../eventing/catalog/shared.ts";
import { eventKeysVar, eventSigningKeyVar } from "../../../eventing/trust/env.ts";
import { defineEnv, json, secretFamily, text, textFamily } from "../../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../../runtime/function.ts";
import { upperSnake } from "../../../runtime/names.ts";
import { memoryClientVars, platformVars } from "../../../runtime/platform-env.ts";
import { AccessMode, type ChannelAdapterConfig, ChannelRoute, InstanceAccessLists, patterns } from "./config.ts";
import { ChannelGroups } from "./groups.ts";
import { WebhookHooks } from "./webhook-hooks.ts";

/**
 * A channel adapter's environment: the `channels.<type>` section of knclaw.yaml (routing and access, none of it
 * secret), the platform's own settings and secrets (`channels.<type>.settings` / `.secrets`, each key as an upper
 * snake variable: `signingSecret` -> `SIGNING_SECRET`), and for the signed webhook its hooks.
 */
export const channelEnv = defineEnv({
  ...platformVars,
  ...memoryClientVars,
  ...eventKeysVar,
  ...eventSigningKeyVar,
  type: text(
    "KNCLAW_CHANNEL_TYPE",
    "the platform this adapter serves (`slack`, `telegram`, ...)",
    z.string().optional(),
  ),
  setting: textFamily(
    "",
    "<SETTING>",
    "each key of `channels.<type>.settings` in upper snake case (`phoneNumberId` -> `PHONE_NUMBER_ID`)",
    z.string(),
  ),
  secret: secretFamily(
    "",
    "<SECRET>",
    "each key of `channels.<type>.secrets` in upper snake case (`botToken` -> `BOT_TOKEN`), from the adapter's Secret",
    z.string(),
  ),
  routes: json(
    "KNCLAW_CHANNEL_ROUTES",
    '`{"routes": [...], "defaultInstance": "..."}`: which workspace / conversation / sender goes to which instance',
    z
      .strictObject({ routes: z.array(ChannelRoute).max(4096).default([]), defaultInstance: InstanceName.optional() })
      .prefault({}),
  ),
  allow: json("KNCLAW_CHANNEL_ALLOW", "sender patterns allowed on the channel (every instance)", patterns),
  deny: json("KNCLAW_CHANNEL_DENY", "sender patterns refused on the channel (every instance)", patterns),
  access: text("KNCLAW_CHANNEL_ACCESS", "`pairing`, `allowlist` or `open`", AccessMode.default("pairing")),
  instances: json(
    "KNCLAW_CHANNEL_INSTANCES",
    '`{"<instance>": {"allow": [...], "deny": [...]}}`: per-instance lists, added to the channel-wide ones',
    z.record(InstanceName, InstanceAccessLists).default({}),
  ),
  groups: json(
    "KNCLAW_CHANNEL_GROUPS",
    '`{"policy": "open"|"allowlist"|"disabled", "groups": {"<conversation>"|"*": {"requireMention": bool}}}`: which group conversations are answered, and whether only when the bot is addressed',
    ChannelGroups.prefault({}),
  ),
  webhookHooks: json(
    "KNCLAW_WEBHOOK_HOOKS",
    "the signed webhook's hooks (`channels.webhook.hooks`): instance, task template, secret key, scheme, contract, reply route",
    WebhookHooks.default({}),
  ),
});

/** The variable of a platform setting or secret key of the channel config: `signingSecret` -> `SIGNING_SECRET`. */
export function platformVariable(key: string): string {
  return upperSnake(key);
}

/** The adapter's routing and access configuration from its environment; throws naming the variable at fault. */
export function channelConfigFromEnv(env: FunctionEnv): ChannelAdapterConfig {
  // Read one by one: the event keys are the adapter runtime's concern, not the configuration's.
  const read = <K extends Parameters<typeof channelEnv.read>[1]>(key: K) => channelEnv.read(env, key);
  return {
    ...read("routes"),
    allow: read("allow"),
    deny: read("deny"),
    access: read("access"),
    instances: read("instances"),
    groups: read("groups"),
  };
}
