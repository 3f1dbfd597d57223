import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";
import { constantTimeEqual, verifyHmacSha256Hex } from "../../../runtime/signatures.ts";
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
import { WhatsAppApi } from "./api.ts";
import { normaliseMessage } from "./inbound.ts";
import { whatsappOutbound } from "./outbound.ts";
import { ChangeValue, WebhookBody } from "./payloads.ts";

/**
 * The WhatsApp Cloud API adapter: the webhook's verification handshake (`GET /channels/whatsapp/webhook`), signed
 * notifications (`POST` on the same path) and the broker's deliveries (`POST /`).
 *
 * Env: APP_SECRET (signs notifications), VERIFY_TOKEN (the handshake), ACCESS_TOKEN (sends), PHONE_NUMBER_ID (the
 * default business number), WHATSAPP_API_BASE_URL (default https://graph.facebook.com/v21.0), K_SINK,
 * the channel variables (toolkit/env.ts), the memory service's URL and channel token.
 */
const WHATSAPP_DEADLINE_MS = 10_000;
/** Meta redelivers for up to seven days: remember message ids a little longer, and drop anything older. */
const DEDUP_KEEP_SECONDS = 8 * 24 * 3600;
const MAX_MESSAGE_AGE_SECONDS = 7 * 24 * 3600;

export async function createApp(env: FunctionEnv, deps: AdapterDeps = {}): Promise<FunctionApp> {
  const appSecret = requireEnv(env, "APP_SECRET");
  const verifyToken = requireEnv(env, "VERIFY_TOKEN");
  const api = new WhatsAppApi({
    baseUrl: env.WHATSAPP_API_BASE_URL ?? "https://graph.facebook.com/v21.0",
    accessToken: requireEnv(env, "ACCESS_TOKEN"),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const defaultNumber = env.PHONE_NUMBER_ID || undefined;
  const runtime = createAdapterRuntime("whatsapp", env, deps, { dedupKeepSeconds: DEDUP_KEEP_SECONDS });
  const app = adapterApp(
    env,
    outboundDelivery({
      outbound: whatsappOutbound(api, defaultNumber),
      kv: runtime.state.kv,
      trust: runtime.trust,
      log: runtime.inbound.log,
    }),
  );

  /** Tells a presser who was turned away (a plain message: every WhatsApp conversation is with one person). */
  const presserReply = whatsappOutbound(api, defaultNumber);

  app.get("/channels/whatsapp/webhook", (c) => {
    const mode = c.req.query("hub.mode");
    const token = c.req.query("hub.verify_token");
    const challenge = c.req.query("hub.challenge");
    if (
      mode !== "subscribe" ||
      token === undefined ||
      challenge === undefined ||
      !constantTimeEqual(token, verifyToken)
    ) {
      return c.body(null, 403);
    }
    return c.text(challenge);
  });

  app.post("/channels/whatsapp/webhook", async (c) => {
    try {
      const body = await readWebhookBody(c.req.raw);
      // Meta signs the exact bytes it sent (with escaped unicode): hash those, never a re-serialisation.
      if (!verifyHmacSha256Hex(c.req.header("x-hub-signature-256"), "sha256=", appSecret, body)) return unauthorized();
      const parsed = WebhookBody.safeParse(parseJsonBody(body));
      if (!parsed.success || parsed.data.object !== "whatsapp_business_account")
        return badRequest("not a WhatsApp webhook");
      const work: Array<() => Promise<unknown>> = [];
      const nowSeconds = runtime.now() / 1000;
      for (const entry of parsed.data.entry) {
        for (const change of entry.changes) {
          if (change.field !== "messages") continue;
          const value = ChangeValue.safeParse(change.value);
          if (!value.success) return badRequest("malformed messages change");
          for (const message of value.data.messages ?? []) {
            if (nowSeconds - Number(message.timestamp) > MAX_MESSAGE_AGE_SECONDS) continue;
            const normalised = normaliseMessage(value.data, message);
            if (normalised?.kind === "message") {
              const inbound = normalised.message;
              work.push(() =>
                receiveMessage(runtime.inbound, inbound, async (text) => {
                  await api.sendMessage(value.data.metadata.phone_number_id, {
                    to: inbound.conversation,
                    type: "text",
                    text: { body: text },
                  });
                }),
              );
            } else if (normalised?.kind === "press") {
              const press = normalised.press;
              work.push(async () => {
                const outcome = await receivePress(runtime.inbound, press);
                // A decision is acknowledged by nothing but the agent's verdict, posted when it arrives.
                if (outcome.kind === "turned_away")
                  await presserReply.tell(press.replyTo, press.presser, outcome.text).catch(() => undefined);
              });
            }
          }
        }
      }
      // Status updates (sent/delivered/read) need no work. One notification may carry several messages: all must be
      // accepted before the 200, otherwise Meta redelivers the lot and de-duplication skips those already emitted.
      return answerWithin(WHATSAPP_DEADLINE_MS, async () => {
        for (const job of work) await job();
        return new Response(null, { status: 200 });
      });
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  return app;
}
