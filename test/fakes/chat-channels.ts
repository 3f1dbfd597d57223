import type { FakeDiscord } from "./discord/server.ts";
import type { FakeSlack } from "./slack/server.ts";
import type { FakeTelegram } from "./telegram/server.ts";
import type { FakeWhatsApp } from "./whatsapp/server.ts";

/** The fakes of the four chat platforms a suite runs against. */
export interface ChatFakes {
  slack: FakeSlack;
  telegram: FakeTelegram;
  discord: FakeDiscord;
  whatsapp: FakeWhatsApp;
}

/**
 * The knclaw.yaml `channels` sections of the four chat adapters, each calling its fake, open to anyone and routed to
 * the `ops` instance. Their Secrets: slack/signing, slack/bot, telegram/bot, telegram/hook, discord/bot,
 * whatsapp/app, whatsapp/access, whatsapp/verify.
 */
export function chatChannelsConfig(fakes: ChatFakes): Record<keyof ChatFakes, Record<string, unknown>> {
  return {
    slack: {
      secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
      settings: { slackApiBaseUrl: fakes.slack.apiBaseUrl },
      defaultInstance: "ops",
      access: "open",
    },
    telegram: {
      secrets: { botToken: { secret: "telegram", key: "bot" }, webhookSecret: { secret: "telegram", key: "hook" } },
      settings: { telegramApiBaseUrl: fakes.telegram.url },
      defaultInstance: "ops",
      access: "open",
    },
    discord: {
      secrets: { botToken: { secret: "discord", key: "bot" } },
      settings: {
        publicKey: fakes.discord.publicKeyHex,
        applicationId: fakes.discord.applicationId,
        discordApiBaseUrl: fakes.discord.apiBaseUrl,
      },
      defaultInstance: "ops",
      access: "open",
    },
    whatsapp: {
      secrets: {
        appSecret: { secret: "whatsapp", key: "app" },
        accessToken: { secret: "whatsapp", key: "access" },
        verifyToken: { secret: "whatsapp", key: "verify" },
      },
      settings: { phoneNumberId: "106540352242922", whatsappApiBaseUrl: fakes.whatsapp.apiBaseUrl },
      defaultInstance: "ops",
      access: "open",
    },
  };
}
