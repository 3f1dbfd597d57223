import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";
import { ed25519PublicKeyFromHex } from "../../../runtime/signatures.ts";
import { adapterApp } from "../toolkit/adapter-app.ts";
import {
  type AdapterDeps,
  badRequest,
  createAdapterRuntime,
  inboundErrorResponse,
  parseJsonBody,
  readWebhookBody,
  requireEnv,
  unauthorized,
} from "../toolkit/adapter-runtime.ts";
import { outboundDelivery } from "../toolkit/delivery.ts";
import { type InboundOutcome, type PressOutcome, receiveMessage, receivePress } from "../toolkit/inbound.ts";
import { SignatureReplayGuard } from "../toolkit/replay-window.ts";
import { DiscordApi } from "./api.ts";
import { discordMessage, discordPress, interactionUser } from "./inbound.ts";
import { discordOutbound } from "./outbound.ts";
import {
  FLAG_EPHEMERAL,
  INTERACTION_APPLICATION_COMMAND,
  INTERACTION_MESSAGE_COMPONENT,
  INTERACTION_PING,
  Interaction,
  RESPONSE_CHANNEL_MESSAGE,
  RESPONSE_DEFERRED_CHANNEL_MESSAGE,
  RESPONSE_DEFERRED_UPDATE_MESSAGE,
  RESPONSE_PONG,
} from "./payloads.ts";
import { verifyDiscordSignature } from "./signature.ts";

/**
 * The Discord adapter: the application's interactions endpoint (`/channels/discord/interactions`) and the broker's
 * deliveries (`POST /`). Slash commands become message.received and are answered with a deferred response the agent's
 * reply later replaces; button presses become approval.decided, acknowledged with a deferred update that leaves the
 * message as it is until the agent's verdict (approval.resolved) edits it; a presser who may not decide is answered
 * ephemerally.
 *
 * Discord never redelivers an interaction, so "retry later" is not an answer here: the emit is awaited for up to
 * 2.5 s; if the broker refused it the user is told (ephemerally) to try again, and if it is still running the
 * response is deferred and a later failure is written into the deferred message.
 *
 * Env: PUBLIC_KEY, APPLICATION_ID, BOT_TOKEN, DISCORD_API_BASE_URL (default https://discord.com/api/v10), K_SINK,
 * the channel variables (toolkit/env.ts), the memory service's URL and channel token.
 */
const DISCORD_DEADLINE_MS = 2_500;
const DEDUP_KEEP_SECONDS = 24 * 3600;

const ephemeral = (content: string) =>
  Response.json({ type: RESPONSE_CHANNEL_MESSAGE, data: { content, flags: FLAG_EPHEMERAL } });
const SORRY = "Sorry, that did not go through. Please try again.";

type Raced<T> = { done: true; value: T } | { done: true; error: unknown } | { done: false; running: Promise<T> };

async function race<T>(work: Promise<T>, ms: number): Promise<Raced<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Raced<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false, running: work }), ms);
  });
  try {
    return await Promise.race([
      work.then(
        (value): Raced<T> => ({ done: true, value }),
        (error: unknown): Raced<T> => ({ done: true, error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function createApp(env: FunctionEnv, deps: AdapterDeps = {}): Promise<FunctionApp> {
  const publicKey = ed25519PublicKeyFromHex(requireEnv(env, "PUBLIC_KEY"));
  const applicationId = requireEnv(env, "APPLICATION_ID");
  const api = new DiscordApi({
    baseUrl: env.DISCORD_API_BASE_URL ?? "https://discord.com/api/v10",
    botToken: requireEnv(env, "BOT_TOKEN"),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const runtime = createAdapterRuntime("discord", env, deps, { dedupKeepSeconds: DEDUP_KEEP_SECONDS });
  const app = adapterApp(
    env,
    outboundDelivery({
      outbound: discordOutbound(api, runtime.state.kv, runtime.now),
      kv: runtime.state.kv,
      trust: runtime.trust,
      log: runtime.inbound.log,
    }),
  );

  async function onCommand(interaction: Interaction): Promise<Response> {
    const user = interactionUser(interaction);
    if (user?.bot) return ephemeral("Bots cannot talk to this agent.");
    const message = discordMessage(interaction, runtime.now());
    if (message === undefined) return badRequest("command without a user or channel");
    const raced = await race<InboundOutcome>(receiveMessage(runtime.inbound, message), DISCORD_DEADLINE_MS);
    if (!raced.done) {
      raced.running.catch(() =>
        api.editOriginal(interaction.application_id, interaction.token, { content: SORRY }).catch(() => undefined),
      );
      return Response.json({ type: RESPONSE_DEFERRED_CHANNEL_MESSAGE });
    }
    if ("error" in raced) return ephemeral(SORRY);
    const outcome = raced.value;
    if (outcome.kind === "pairing") return ephemeral(outcome.text);
    if (outcome.kind === "ignored") return ephemeral("This agent is not available to you here.");
    return Response.json({ type: RESPONSE_DEFERRED_CHANNEL_MESSAGE });
  }

  async function onComponent(interaction: Interaction): Promise<Response> {
    const press = discordPress(interaction, runtime.now());
    if (press === undefined) return badRequest("component interaction without a user, channel or custom_id");
    const raced = await race<PressOutcome>(receivePress(runtime.inbound, press), DISCORD_DEADLINE_MS);
    if (!raced.done) {
      // Acknowledged now; a presser turned away later is told in an ephemeral follow-up on their press.
      raced.running
        .then((outcome) =>
          outcome.kind === "turned_away"
            ? api.followUp(interaction.application_id, interaction.token, {
                content: outcome.text,
                flags: FLAG_EPHEMERAL,
              })
            : undefined,
        )
        .catch(() => undefined);
      return Response.json({ type: RESPONSE_DEFERRED_UPDATE_MESSAGE });
    }
    if ("error" in raced) return ephemeral(SORRY);
    const outcome = raced.value;
    if (outcome.kind === "turned_away") return ephemeral(outcome.text);
    if (outcome.kind === "ignored") return ephemeral("You cannot use this button.");
    // A decision is acknowledged without touching the message: it changes when the agent's verdict arrives.
    return Response.json({ type: RESPONSE_DEFERRED_UPDATE_MESSAGE });
  }

  // Discord never redelivers an interaction: a signature seen before is a replay.
  const replays = new SignatureReplayGuard(runtime.state.kv, "discord");

  app.post("/channels/discord/interactions", async (c) => {
    try {
      const body = await readWebhookBody(c.req.raw);
      if (!verifyDiscordSignature(c.req.raw.headers, body, publicKey, runtime.now())) return unauthorized();
      const signature = c.req.header("x-signature-ed25519")!;
      if (await replays.seen(signature)) return unauthorized();
      const response = await route(body);
      if (response.status < 300) await replays.remember(signature);
      return response;
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  async function route(body: Uint8Array): Promise<Response> {
    const parsed = Interaction.safeParse(parseJsonBody(body));
    if (!parsed.success) return badRequest("not a Discord interaction");
    const interaction = parsed.data;
    if (interaction.application_id !== applicationId) return badRequest("interaction for another application");
    switch (interaction.type) {
      case INTERACTION_PING:
        return Response.json({ type: RESPONSE_PONG });
      case INTERACTION_APPLICATION_COMMAND:
        return await onCommand(interaction);
      case INTERACTION_MESSAGE_COMPONENT:
        return await onComponent(interaction);
      default:
        return badRequest(`interaction type ${interaction.type} is not handled`);
    }
  }

  return app;
}
