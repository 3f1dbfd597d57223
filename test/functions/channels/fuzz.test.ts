import { createHmac } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp as createDiscord } from "../../../functions/channels/discord/app.ts";
import { createApp as createSlack } from "../../../functions/channels/slack/app.ts";
import { createApp as createTelegram } from "../../../functions/channels/telegram/app.ts";
import { createApp as createWebhook } from "../../../functions/channels/webhook/app.ts";
import { createApp as createWhatsApp } from "../../../functions/channels/whatsapp/app.ts";
import type { FunctionApp } from "../../../runtime/function.ts";
import { FakeDiscord } from "../../fakes/discord/server.ts";
import { slackRequest } from "../../fakes/slack/server.ts";
import { channelEnv } from "./support/harness.ts";
import { memoryChannelState } from "./support/memory-state.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

/**
 * Correctly signed but arbitrary payloads: an adapter answers 2xx (ignored or handled) or 4xx, never 5xx, and never
 * throws. Access is `open` so that no pairing message is attempted: a failed platform call is rightly a 503 (ours to
 * retry), and the platform APIs here point at a closed port.
 */
let broker: RecordingBroker;
const discordFake = new FakeDiscord();
const apps: Record<string, FunctionApp> = {};

beforeAll(async () => {
  broker = await new RecordingBroker().start();
  const common = { K_SINK: broker.url, ...channelEnv({ defaultInstance: "ops", access: "open" }) };
  const deps = () => ({ state: memoryChannelState() });
  apps.slack = await createSlack(
    { ...common, SIGNING_SECRET: "s", BOT_TOKEN: "t", SLACK_API_BASE_URL: "http://127.0.0.1:9" },
    deps(),
  );
  apps.telegram = await createTelegram(
    { ...common, BOT_TOKEN: "1:x", WEBHOOK_SECRET: "sec", TELEGRAM_API_BASE_URL: "http://127.0.0.1:9" },
    deps(),
  );
  apps.discord = await createDiscord(
    {
      ...common,
      PUBLIC_KEY: discordFake.publicKeyHex,
      APPLICATION_ID: discordFake.applicationId,
      BOT_TOKEN: "b",
      DISCORD_API_BASE_URL: "http://127.0.0.1:9",
    },
    deps(),
  );
  apps.whatsapp = await createWhatsApp(
    { ...common, APP_SECRET: "a", VERIFY_TOKEN: "v", ACCESS_TOKEN: "x", WHATSAPP_API_BASE_URL: "http://127.0.0.1:9" },
    deps(),
  );
  apps.webhook = await createWebhook(
    {
      ...common,
      K_SINK: broker.url,
      KNCLAW_WEBHOOK_HOOKS: JSON.stringify({ h: { instance: "ops", task: "do {{x}}" } }),
      SIGNING_SECRET: "w",
    },
    deps(),
  );
});
afterAll(async () => {
  await broker.stop();
});

/** JSON values shaped a little like each platform's payloads, so the fuzzing reaches past the first check. */
const loose = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      "message",
      "event_callback",
      "url_verification",
      "block_actions",
      "whatsapp_business_account",
      "messages",
    ),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom(
        "type",
        "event",
        "channel",
        "user",
        "text",
        "ts",
        "team_id",
        "event_id",
        "update_id",
        "message",
        "chat",
        "id",
        "from",
        "callback_query",
        "data",
        "entry",
        "changes",
        "value",
        "field",
        "messages",
        "application_id",
        "token",
        "payload",
        "object",
        "metadata",
        "phone_number_id",
        "timestamp",
      ),
      tie("value"),
      { maxKeys: 6 },
    ),
  ),
})).value;

const signedRequests: Record<string, (body: string) => Request> = {
  slack: (body) => slackRequest("http://a/channels/slack/events", "s", body),
  slackInteractive: (body) =>
    slackRequest("http://a/channels/slack/interactive", "s", new URLSearchParams({ payload: body }).toString(), {
      contentType: "application/x-www-form-urlencoded",
    }),
  telegram: (body) =>
    new Request("http://a/channels/telegram/webhook", {
      method: "POST",
      headers: { "x-telegram-bot-api-secret-token": "sec" },
      body,
    }),
  discord: (body) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return new Request("http://a/channels/discord/interactions", {
      method: "POST",
      headers: { "x-signature-timestamp": timestamp, "x-signature-ed25519": discordFake.sign(timestamp, body) },
      body,
    });
  },
  whatsapp: (body) =>
    new Request("http://a/channels/whatsapp/webhook", {
      method: "POST",
      headers: { "x-hub-signature-256": `sha256=${createHmac("sha256", "a").update(body).digest("hex")}` },
      body,
    }),
  webhook: (body) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return new Request("http://a/channels/webhook/h", {
      method: "POST",
      headers: {
        "x-knclaw-timestamp": timestamp,
        "x-knclaw-signature": `sha256=${createHmac("sha256", "w").update(`${timestamp}.${body}`).digest("hex")}`,
      },
      body,
    });
  },
};

describe("signed garbage never makes an adapter fail with 5xx", () => {
  for (const [name, build] of Object.entries(signedRequests)) {
    it(name, async () => {
      const app = apps[name === "slackInteractive" ? "slack" : name]!;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            loose.map((v) => JSON.stringify(v)),
            fc.string({ maxLength: 200 }),
          ),
          async (body) => {
            const response = await app.fetch(build(body));
            expect(response.status, `${name} answered ${response.status} to ${body}`).toBeLessThan(500);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});
