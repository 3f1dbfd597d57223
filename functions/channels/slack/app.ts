import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";
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
import { SignatureReplayGuard } from "../toolkit/replay-window.ts";
import { SlackApi } from "./api.ts";
import { ignoreReason, slackMessage, slackPress } from "./inbound.ts";
import { slackOutbound } from "./outbound.ts";
import { BlockActions, EventsApiBody, MessageEvent } from "./payloads.ts";
import { verifySlackSignature } from "./signature.ts";

/**
 * The Slack adapter: Events API (`/channels/slack/events`), interactivity (`/channels/slack/interactive`) and the
 * broker's deliveries of message.send / approval.requested / approval.resolved (`POST /`). Holds only Slack's secrets.
 *
 * Env (secrets named as the renderer names them): SIGNING_SECRET, BOT_TOKEN; SLACK_API_BASE_URL (default
 * https://slack.com/api); K_SINK; the channel variables (toolkit/env.ts); the memory service's URL and channel token.
 */

/** Slack wants a 2xx within 3 s; leave room for the network. */
const SLACK_DEADLINE_MS = 2_500;
/** Slack retries three times within about an hour; remember deliveries for a day. */
const DEDUP_KEEP_SECONDS = 24 * 3600;

export async function createApp(env: FunctionEnv, deps: AdapterDeps = {}): Promise<FunctionApp> {
  const signingSecret = requireEnv(env, "SIGNING_SECRET");
  const api = new SlackApi({
    baseUrl: env.SLACK_API_BASE_URL ?? "https://slack.com/api",
    token: requireEnv(env, "BOT_TOKEN"),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const runtime = createAdapterRuntime("slack", env, deps, {
    dedupKeepSeconds: DEDUP_KEEP_SECONDS,
  });
  const app = adapterApp(
    env,
    outboundDelivery({
      outbound: slackOutbound(api),
      kv: runtime.state.kv,
      trust: runtime.trust,
      log: runtime.inbound.log,
    }),
  );

  const replays = new SignatureReplayGuard(runtime.state.kv, "slack");
  /** Tells a presser who was turned away (chat.postEphemeral). */
  const presserReply = slackOutbound(api);

  /** Reads and verifies; undefined means "answer 401" (forged, expired or replayed). Oversized bodies throw (413). */
  async function verified(request: Request): Promise<Uint8Array | undefined> {
    const body = await readWebhookBody(request);
    if (!verifySlackSignature(request.headers, body, signingSecret, runtime.now())) return undefined;
    return (await replays.seen(request.headers.get("x-slack-signature")!)) ? undefined : body;
  }
  const handled = (request: Request) => replays.remember(request.headers.get("x-slack-signature")!);

  app.post("/channels/slack/events", async (c) => {
    try {
      const body = await verified(c.req.raw);
      if (body === undefined) return unauthorized();
      const parsed = EventsApiBody.safeParse(parseJsonBody(body));
      if (!parsed.success) return badRequest("not an Events API payload");
      if (parsed.data.type === "url_verification") return c.json({ challenge: parsed.data.challenge });
      const callback = parsed.data;
      if (callback.event.type !== "message" && callback.event.type !== "app_mention") return c.body(null, 200);
      const event = MessageEvent.safeParse(callback.event);
      if (!event.success) return badRequest("malformed message event");
      if (ignoreReason(callback, event.data) !== undefined) return c.body(null, 200);
      const message = slackMessage(callback, event.data);
      return answerWithin(SLACK_DEADLINE_MS, async () => {
        await receiveMessage(runtime.inbound, message, async (text) => {
          if (event.data.channel_type === "im") {
            await api.postMessage({ channel: message.conversation, text });
          } else {
            await api.postEphemeral({
              channel: message.conversation,
              user: message.sender.id,
              text,
              ...(message.thread !== undefined ? { thread_ts: message.thread } : {}),
            });
          }
        });
        await handled(c.req.raw);
        return new Response(null, { status: 200 });
      });
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  app.post("/channels/slack/interactive", async (c) => {
    try {
      const body = await verified(c.req.raw);
      if (body === undefined) return unauthorized();
      const raw = new URLSearchParams(new TextDecoder().decode(body)).get("payload");
      if (raw === null) return badRequest("no payload field");
      const json = parseJsonBody(new TextEncoder().encode(raw)) as { type?: unknown };
      if (json === null || typeof json !== "object") return badRequest("payload is not an object");
      if (json.type !== "block_actions") return c.body(null, 200);
      const payload = BlockActions.safeParse(json);
      if (!payload.success) return badRequest("malformed block_actions payload");
      const press = slackPress(payload.data);
      if (press === undefined) return badRequest("block_actions without a channel");
      return answerWithin(SLACK_DEADLINE_MS, async () => {
        const outcome = await receivePress(runtime.inbound, press);
        await handled(c.req.raw);
        // The ack is all a decision gets: the prompt changes when the agent's verdict arrives (approval.resolved).
        if (outcome.kind === "turned_away") {
          await presserReply.tell(press.replyTo, press.presser, outcome.text).catch(() => undefined);
        }
        return new Response(null, { status: 200 });
      });
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  return app;
}
