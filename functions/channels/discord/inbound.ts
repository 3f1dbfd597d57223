import type { Identity } from "../../../eventing/catalog/shared.ts";
import type { ButtonPress, InboundMessage } from "../toolkit/inbound.ts";
import type { Interaction } from "./payloads.ts";

/** Discord interactions -> the toolkit's normalised inbound shapes. */

const CHAT_COMMANDS = new Set(["new", "reset", "status", "stop"]);

export function interactionUser(interaction: Interaction) {
  return interaction.member?.user ?? interaction.user;
}

function identity(interaction: Interaction): Identity | undefined {
  const user = interactionUser(interaction);
  if (user === undefined) return undefined;
  const name = user.global_name ?? user.username;
  return {
    channel: "discord",
    id: user.id,
    ...(interaction.guild_id !== undefined ? { workspace: interaction.guild_id } : {}),
    ...(name !== undefined && name !== null ? { displayName: name } : {}),
  };
}

/** Option values of a slash command, depth first: `/ask prompt: how is prod?` -> "how is prod?". */
function optionText(options: ReadonlyArray<{ value?: unknown; options?: unknown[] }> | undefined): string[] {
  const out: string[] = [];
  for (const option of options ?? []) {
    if (typeof option.value === "string" || typeof option.value === "number") out.push(String(option.value));
    out.push(...optionText(option.options as Array<{ value?: unknown; options?: unknown[] }> | undefined));
  }
  return out;
}

/** A slash command as a message: `/new`, `/reset`, `/status`, `/stop` stay commands; any other passes its options. */
export function discordMessage(interaction: Interaction, nowMs: number): InboundMessage | undefined {
  const sender = identity(interaction);
  const channel = interaction.channel_id;
  if (sender === undefined || channel === undefined) return undefined;
  const name = interaction.data?.name ?? "";
  const args = optionText(interaction.data?.options).join(" ");
  const text = CHAT_COMMANDS.has(name) ? `/${name}${args ? ` ${args}` : ""}` : args;
  return {
    dedupKey: interaction.id,
    messageId: interaction.id,
    ...(interaction.guild_id !== undefined ? { workspace: interaction.guild_id } : {}),
    // A thread on Discord is a channel of its own: answering into channel_id keeps the thread.
    conversation: channel,
    sender,
    text,
    replyTo: {
      channel: "discord",
      conversation: channel,
      ...(interaction.guild_id !== undefined ? { workspace: interaction.guild_id } : {}),
      meta: {
        interactionToken: interaction.token,
        applicationId: interaction.application_id,
        interactionAt: String(nowMs),
      },
    },
    // A guild channel is a group; a slash command is always addressed to the app, so only the group policy's
    // allowlist and `disabled` can turn it away. DMs with the app are direct.
    ...(interaction.guild_id !== undefined ? { group: { addressed: true } } : {}),
  };
}

export function discordPress(interaction: Interaction, nowMs: number): ButtonPress | undefined {
  const presser = identity(interaction);
  const channel = interaction.channel_id;
  const data = interaction.data?.custom_id;
  if (presser === undefined || channel === undefined || data === undefined) return undefined;
  const replyTo = {
    channel: "discord" as const,
    conversation: channel,
    ...(interaction.guild_id !== undefined ? { workspace: interaction.guild_id } : {}),
  };
  return {
    dedupKey: interaction.id,
    data,
    presser,
    conversation: channel,
    replyTo,
    // The press's own interaction: an ephemeral follow-up on it reaches the presser alone (for 15 minutes).
    presserRoute: {
      ...replyTo,
      meta: {
        interactionToken: interaction.token,
        applicationId: interaction.application_id,
        interactionAt: String(nowMs),
        interactionUser: presser.id,
      },
    },
  };
}
