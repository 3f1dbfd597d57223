import { createHash } from "node:crypto";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import type { RenderedButton } from "../toolkit/buttons.ts";
import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import type { DiscordApi } from "./api.ts";

/**
 * message.send / approval.requested -> Discord. An answer to a slash command first replaces the deferred "thinking"
 * response (`@original`), further parts and messages are follow-ups on the same interaction; once the interaction
 * token is about to expire (15 minutes), or for conversations that did not start with an interaction, the bot posts
 * to the channel with a nonce that Discord enforces, so a retried create does not post twice.
 */
const DISCORD_CONTENT_LIMIT = 2000;
/** Interaction tokens live 15 minutes; stop using one a minute early. */
const INTERACTION_TOKEN_MS = 14 * 60_000;

export function discordOutbound(api: DiscordApi, kv: KeyValueState, now: () => number): PlatformOutbound {
  return {
    channel: "discord",
    split: { limit: DISCORD_CONTENT_LIMIT, maxParts: 10 },
    async post(post: OutboundPost) {
      const body = {
        content: post.text,
        ...(post.buttons !== undefined ? { components: discordComponents(post.buttons) } : {}),
      };
      const meta = post.route.meta ?? {};
      const token = meta.interactionToken;
      const application = meta.applicationId;
      const at = Number(meta.interactionAt);
      if (
        token !== undefined &&
        application !== undefined &&
        Number.isFinite(at) &&
        now() - at < INTERACTION_TOKEN_MS
      ) {
        const slot = `discord:original:${digest(token)}`;
        const owner = (await kv.setIfAbsent(slot, post.idempotencyKey, 15 * 60))
          ? post.idempotencyKey
          : await kv.get(slot);
        if (owner === post.idempotencyKey) return { ref: await api.editOriginal(application, token, body) };
        return { ref: await api.followUp(application, token, body) };
      }
      return {
        ref: await api.createMessage(post.route.conversation, {
          ...body,
          nonce: digest(post.idempotencyKey).slice(0, 25),
        }),
      };
    },
  };
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

const STYLE = { primary: 1, default: 2, danger: 4 } as const;

/** Buttons as action rows of at most five (Discord's layout limits: 5 rows x 5 buttons). */
function discordComponents(buttons: RenderedButton[]): unknown[] {
  const rows: unknown[] = [];
  for (let i = 0; i < Math.min(buttons.length, 25); i += 5) {
    rows.push({
      type: 1,
      components: buttons.slice(i, i + 5).map((button) => ({
        type: 2,
        style: STYLE[button.style ?? "default"],
        label: button.label.slice(0, 80),
        custom_id: button.data,
      })),
    });
  }
  return rows;
}
