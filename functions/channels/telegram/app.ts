import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";
import { constantTimeEqual } from "../../../runtime/signatures.ts";
import { adapterApp } from "../toolkit/adapter-app.ts";
import {
  type AdapterDeps,
  answerWithin,
  badRequest,
  createAdapterRuntime,
  inboundErrorResponse,
  parseJsonBody,
  readWebhookBody,
  requireEnv,
  unauthorized,
} from "../toolkit/adapter-runtime.ts";
import { outboundDelivery } from "../toolkit/delivery.ts";
import { receiveMessage, receivePress } from "../toolkit/inbound.ts";
import { TelegramApi } from "./api.ts";
import { isGroupChat, type TelegramBot, telegramMessage, telegramPress } from "./inbound.ts";
import { telegramOutbound } from "./outbound.ts";
import { Update } from "./payloads.ts";

/**
 * The Telegram adapter: the bot's webhook (`/channels/telegram/webhook`, registered with setWebhook and a
 * `secret_token`) and the broker's deliveries of message.send / approval.requested / approval.resolved (`POST /`).
 *
 * Env: BOT_TOKEN, WEBHOOK_SECRET (the setWebhook secret_token), TELEGRAM_API_BASE_URL (default
 * https://api.telegram.org), K_SINK, the channel variables (toolkit/env.ts), the memory service's URL and channel
 * token.
 */

/** Telegram waits long for an answer, but a slow answer delays every later update of the bot. */
const TELEGRAM_DEADLINE_MS = 10_000;
/** Telegram keeps undelivered updates for 24 h. */
const DEDUP_KEEP_SECONDS = 2 * 24 * 3600;

export async function createApp(env: FunctionEnv, deps: AdapterDeps = {}): Promise<FunctionApp> {
  const token = requireEnv(env, "BOT_TOKEN");
  const secret = requireEnv(env, "WEBHOOK_SECRET");
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw new Error("WEBHOOK_SECRET must be 1-256 characters of A-Za-z0-9_-");
  // The bot's numeric id is the token's public prefix: it scopes update ids, which are unique per bot only.
  const botId = token.split(":", 1)[0]!;
  const api = new TelegramApi({
    baseUrl: env.TELEGRAM_API_BASE_URL ?? "https://api.telegram.org",
    token,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const runtime = createAdapterRuntime("telegram", env, deps, { dedupKeepSeconds: DEDUP_KEEP_SECONDS });
  // Who the bot is (its username, for mentions), asked once, when the first group message arrives; a failed ask is
  // asked again next time (the update is answered 503 meanwhile, and Telegram redelivers it).
  let me: Promise<TelegramBot> | undefined;
  const whoAmI = (): Promise<TelegramBot> => {
    me ??= api.getMe().then(
      (bot) => ({ id: String(bot.id), username: bot.username }),
      (error: unknown) => {
        me = undefined;
        throw error;
      },
    );
    return me;
  };
  const app = adapterApp(
    env,
    outboundDelivery({
      outbound: telegramOutbound(api),
      kv: runtime.state.kv,
      trust: runtime.trust,
      log: runtime.inbound.log,
    }),
  );

  app.post("/channels/telegram/webhook", async (c) => {
    try {
      const given = c.req.header("x-telegram-bot-api-secret-token");
      if (given === undefined || !constantTimeEqual(given, secret)) {
        await c.req.raw.body?.cancel().catch(() => undefined);
        return unauthorized();
      }
      const parsed = Update.safeParse(parseJsonBody(await readWebhookBody(c.req.raw)));
      if (!parsed.success) return badRequest("not a Telegram Update");
      const update = parsed.data;
      // An edited_message is ignored on purpose: the agent answered (or is answering) the original already.
      if (update.message !== undefined) {
        const incoming = update.message;
        return answerWithin(TELEGRAM_DEADLINE_MS, async () => {
          const bot = isGroupChat(incoming) ? await whoAmI() : undefined;
          const message = telegramMessage(botId, update.update_id, incoming, bot);
          if (message === undefined) return Response.json({});
          await receiveMessage(runtime.inbound, message, async (text) => {
            await api.sendMessage({ chat_id: message.conversation, text });
          });
          return Response.json({});
        });
      }
      if (update.callback_query !== undefined) {
        const query = update.callback_query;
        const press = telegramPress(botId, query);
        return answerWithin(TELEGRAM_DEADLINE_MS, async () => {
          const outcome = press === undefined ? undefined : await receivePress(runtime.inbound, press);
          // Every callback query must be answered, or the presser's client shows a spinner until it times out. A
          // decision is only acknowledged: the keyboard goes when the agent's verdict arrives (approval.resolved).
          const answer =
            outcome?.kind === "decided"
              ? { text: "Received" }
              : outcome?.kind === "turned_away"
                ? { text: outcome.text, show_alert: true }
                : {};
          await api.answerCallbackQuery({ callback_query_id: query.id, ...answer }).catch(() => undefined);
          return Response.json({});
        });
      }
      return c.json({});
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  return app;
}
