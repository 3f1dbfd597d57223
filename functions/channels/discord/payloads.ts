import { z } from "zod";

/** The parts of a Discord interaction the adapter reads (https://discord.com/developers/docs/interactions). */
export const INTERACTION_PING = 1;
export const INTERACTION_APPLICATION_COMMAND = 2;
export const INTERACTION_MESSAGE_COMPONENT = 3;

export const RESPONSE_PONG = 1;
export const RESPONSE_CHANNEL_MESSAGE = 4;
export const RESPONSE_DEFERRED_CHANNEL_MESSAGE = 5;
export const RESPONSE_DEFERRED_UPDATE_MESSAGE = 6;
export const FLAG_EPHEMERAL = 64;

const snowflake = z.string().regex(/^\d{1,20}$/);

const DiscordUser = z.object({
  id: snowflake,
  username: z.string().max(256).optional(),
  global_name: z.string().max(256).nullable().optional(),
  bot: z.boolean().optional(),
});

const CommandOption: z.ZodType<{ name: string; type: number; value?: unknown; options?: unknown[] }> = z.lazy(() =>
  z.object({
    name: z.string().max(100),
    type: z.number().int(),
    value: z.unknown().optional(),
    options: z.array(CommandOption).max(25).optional(),
  }),
);

export const Interaction = z.object({
  id: snowflake,
  application_id: snowflake,
  type: z.number().int(),
  token: z.string().min(1).max(1024),
  version: z.number().int().optional(),
  guild_id: snowflake.optional(),
  channel_id: snowflake.optional(),
  member: z.object({ user: DiscordUser }).optional(),
  user: DiscordUser.optional(),
  data: z
    .object({
      name: z.string().max(100).optional(),
      custom_id: z.string().max(100).optional(),
      component_type: z.number().int().optional(),
      options: z.array(CommandOption).max(25).optional(),
    })
    .optional(),
  message: z.object({ id: snowflake, content: z.string().max(4000).optional() }).optional(),
});
export type Interaction = z.infer<typeof Interaction>;
