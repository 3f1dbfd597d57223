import { createHash } from "node:crypto";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import type { RenderedButton } from "../toolkit/buttons.ts";
import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import type { DiscordApi } from "./api.ts";
import { FLAG_EPHEMERAL } from "./payloads.ts";

/**
 * message.send / approval.requested -> Discord. An answer to a slash command first replaces the deferred "thinking"
 * response (`@original`), further parts and messages are follow-ups on the same interaction; once the interaction
 * token is about to expire (15 minutes), or for conversations that did not start with an interaction, the bot posts
 * to the channel with a nonce that Discord enforces, so a retried create does not post twice. An approval's verdict
 * edits the prompt the same way (through the interaction while its token lives, else as the bot) with its components
 * removed; what only the presser should see is an ephemeral follow-up on their own press.
 */
const DISCORD_CONTENT_LIMIT = 2000;
/** Interaction tokens live 15 minutes; stop using one a minute early. */
const INTERACTION_TOKEN_MS = 14 * 60_000;

/**
 * How long after a first attempt its nonce is relied on: Discord checks an enforced nonce's uniqueness "in the past few
 * minutes" (its API reference, Create Message); past this a repeat could post twice, so it counts as unknowable.
 */
const NONCE_TRUSTED_MS = 2 * 60_000;
/** How long the message that answered an interaction is remembered: later answers in its conversation reply to it. */
const ANSWER_KEEP_SECONDS = 7 * 24 * 3600;

export function discordOutbound(api: DiscordApi, kv: KeyValueState, now: () => number): PlatformOutbound {
  /**
   * Posts a part. `inDoubt` (an earlier attempt may have posted it) posts only where a repeat cannot post twice, and
   * answers undefined, having sent nothing, where it could: a follow-up, or a nonce Discord may have forgotten.
   */
  async function postPart(post: OutboundPost, inDoubt?: { since: Date }): Promise<string | undefined> {
    const body = {
      content: post.text,
      ...(post.buttons !== undefined ? { components: discordComponents(post.buttons) } : {}),
    };
    const interaction = liveInteraction(post.route, now());
    if (interaction !== undefined) {
      const slot = `discord:original:${digest(interaction.token)}`;
      const owner = (await kv.setIfAbsent(slot, post.idempotencyKey, 15 * 60))
        ? post.idempotencyKey
        : await kv.get(slot);
      if (owner === post.idempotencyKey) {
        const id = await api.editOriginal(interaction.application, interaction.token, body);
        await kv.set(answerSlot(interaction.token), id, ANSWER_KEEP_SECONDS);
        return id;
      }
      if (inDoubt !== undefined) return undefined;
      return api.followUp(interaction.application, interaction.token, body);
    }
    if (inDoubt !== undefined && now() - inDoubt.since.getTime() > NONCE_TRUSTED_MS) return undefined;
    const reference = post.part === 0 ? await answeredMessage(post.route) : undefined;
    return api.createMessage(post.route.conversation, {
      ...body,
      ...(reference !== undefined ? { message_reference: { message_id: reference, fail_if_not_exists: false } } : {}),
      nonce: digest(post.idempotencyKey).slice(0, 25),
    });
  }

  /**
   * The message that answered the slash command a route came from (its deferred response, edited into the answer's
   * first part): once the interaction's token has expired, an answer posted as the bot replies to it, so it stays
   * attached to the question. Discord shows an interaction's own responses and follow-ups as replies to the command.
   */
  async function answeredMessage(route: ReplyRoute): Promise<string | undefined> {
    const token = route.meta?.interactionToken;
    return token !== undefined ? await kv.get(answerSlot(token)) : undefined;
  }

  return {
    channel: "discord",
    split: { limit: DISCORD_CONTENT_LIMIT, maxParts: 10 },
    post: async (post: OutboundPost) => ({ ref: (await postPart(post))! }),
    // Past 10 messages the rest of an answer is a text file: on the interaction while it lives, else as the bot.
    async attach(file) {
      const body = { content: file.caption };
      const interaction = liveInteraction(file.route, now());
      const content = { filename: file.filename, content: file.content };
      if (interaction !== undefined)
        return { ref: await api.followUp(interaction.application, interaction.token, body, content) };
      const nonce = digest(file.idempotencyKey).slice(0, 25);
      return { ref: await api.createMessage(file.route.conversation, { ...body, nonce }, content) };
    },
    // Safe to repeat: an edit of the interaction's original response, or a channel message whose enforced nonce
    // Discord still remembers (it answers with the earlier message). A follow-up has no such check.
    postInDoubt: async (post: OutboundPost, since: Date) => {
      const ref = await postPart(post, { since });
      return ref === undefined ? undefined : { ref };
    },
    async update(route, ref, text) {
      const body = { content: text, components: [] };
      const interaction = liveInteraction(route, now());
      if (interaction !== undefined)
        await api.editInteractionMessage(interaction.application, interaction.token, ref, body);
      else await api.editChannelMessage(route.conversation, ref, body);
    },
    async tell(route, person, text) {
      // Ephemeral only through the person's own interaction (their press): on anyone else's it would show to them.
      const interaction = liveInteraction(route, now());
      if (interaction !== undefined && route.meta?.interactionUser === person.id) {
        await api.followUp(interaction.application, interaction.token, { content: text, flags: FLAG_EPHEMERAL });
        return;
      }
      const content = `<@${person.id}> ${text}`;
      await api.createMessage(route.conversation, {
        content,
        nonce: digest(`${route.conversation}\u0000${content}`).slice(0, 25),
      });
    },
    mention: (person) => `<@${person.id}>`,
  };
}

/** The interaction a route came from, while its token may still be used. */
function liveInteraction(route: ReplyRoute, nowMs: number): { token: string; application: string } | undefined {
  const meta = route.meta ?? {};
  const at = Number(meta.interactionAt);
  if (meta.interactionToken === undefined || meta.applicationId === undefined || !Number.isFinite(at)) return undefined;
  if (nowMs - at >= INTERACTION_TOKEN_MS) return undefined;
  return { token: meta.interactionToken, application: meta.applicationId };
}

function answerSlot(token: string): string {
  return `discord:answer:${digest(token)}`;
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
