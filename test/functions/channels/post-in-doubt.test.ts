/**
 * A part whose platform call ended without an answer (the platform posted it, the answer was lost on the way back) is
 * in doubt: the retry must not post it twice where the platform can tell (functions/channels/toolkit/post-once.ts).
 * Each adapter runs against its platform fake over real HTTP; the loss is a fetch that reaches the fake and then
 * fails, exactly what a connection cut after the request looks like to the adapter.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp as createDiscord } from "../../../functions/channels/discord/app.ts";
import { createApp as createSlack } from "../../../functions/channels/slack/app.ts";
import { createApp as createTelegram } from "../../../functions/channels/telegram/app.ts";
import { IN_DOUBT_MARK } from "../../../functions/channels/toolkit/post-once.ts";
import { FakeDiscord } from "../../fakes/discord/server.ts";
import { FakeSlack } from "../../fakes/slack/server.ts";
import { FakeTelegram } from "../../fakes/telegram/server.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";

let slack: FakeSlack;
let discord: FakeDiscord;
let telegram: FakeTelegram;
let adapter: RunningAdapter | undefined;

beforeAll(async () => {
  [slack, discord, telegram] = await Promise.all([
    new FakeSlack().start(),
    new FakeDiscord().start(),
    new FakeTelegram().start(),
  ]);
});
afterAll(async () => {
  await Promise.all([slack.stop(), discord.stop(), telegram.stop()]);
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

/**
 * The adapter's fetch with planned cuts: the next request whose URL matches fails as a cut connection does, either
 * `after` the platform had it (the answer is lost) or `before` (it never arrived).
 */
class Cuts {
  private readonly plan: Array<{ match: (url: string) => boolean; when: "before" | "after" }> = [];
  next(match: (url: string) => boolean, when: "before" | "after"): this {
    this.plan.push({ match, when });
    return this;
  }
  readonly fetch: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const index = this.plan.findIndex((cut) => cut.match(url));
    const cut = index >= 0 ? this.plan.splice(index, 1)[0] : undefined;
    if (cut?.when === "before") throw new TypeError("fetch failed");
    const response = await fetch(input, init);
    if (cut?.when === "after") {
      await response.arrayBuffer();
      throw new TypeError("fetch failed");
    }
    return response;
  };
}

const slackEnv = () => ({
  SIGNING_SECRET: "s",
  BOT_TOKEN: slack.token,
  SLACK_API_BASE_URL: slack.apiBaseUrl,
  K_SINK: "http://127.0.0.1:9/",
  ...channelEnv({ defaultInstance: "ops", access: "open" }),
});
const telegramEnv = () => ({
  BOT_TOKEN: telegram.token,
  WEBHOOK_SECRET: "tg_secret",
  TELEGRAM_API_BASE_URL: telegram.url,
  K_SINK: "http://127.0.0.1:9/",
  ...channelEnv({ defaultInstance: "ops", access: "open" }),
});
const sentTo = (chat: string) =>
  telegram.accepted
    .filter((c) => c.method === "sendMessage" && String(c.body.chat_id) === chat)
    .map((c) => c.body.text);
const postMessage = (url: string) => url.endsWith("/chat.postMessage");

function sendTo(route: ReplyRoute, text: string, key: string) {
  return makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", route, text, idempotencyKey: key } });
}

const deliver = async (event: ReturnType<typeof sendTo>) =>
  (await fetch(deliveryRequest(`${adapter!.url}/`, event))).status;

describe("a post in doubt", () => {
  it("Slack: found by its metadata in the thread (conversations.replies), not posted again", async () => {
    adapter = await runAdapter(createSlack, slackEnv(), { fetch: new Cuts().next(postMessage, "after").fetch });
    const thread = await slack.seedMessage("C-DOUBT", "the question");
    const event = sendTo({ channel: "slack", conversation: "C-DOUBT", thread }, "the answer", "slack-doubt-1");
    expect(await deliver(event)).toBe(200);
    const answers = slack.posts().filter((p) => p.text === "the answer");
    expect(answers).toHaveLength(1);
    expect(answers[0]!.metadata).toMatchObject({ event_type: "knclaw_post" });
    expect(slack.requests.filter((r) => r.path.endsWith("/conversations.replies"))).toHaveLength(1);
    // A redelivery finds the part recorded: no lookup, no post.
    expect(await deliver(event)).toBe(200);
    expect(slack.posts().filter((p) => p.text === "the answer")).toHaveLength(1);
  });

  it("Slack: a top-level post is looked up in conversations.history; one that never landed is posted once", async () => {
    const cuts = new Cuts().next(postMessage, "after");
    adapter = await runAdapter(createSlack, slackEnv(), { fetch: cuts.fetch });
    const route: ReplyRoute = { channel: "slack", conversation: "C-TOP" };
    expect(await deliver(sendTo(route, "top level", "slack-doubt-2"))).toBe(200);
    expect(slack.posts().filter((p) => p.text === "top level")).toHaveLength(1);
    expect(slack.requests.some((r) => r.path.endsWith("/conversations.history"))).toBe(true);

    // The call fails before Slack has it (connection refused): in doubt, looked up, not found, posted once.
    cuts.next(postMessage, "before");
    expect(await deliver(sendTo(route, "never landed", "slack-doubt-3"))).toBe(200);
    expect(slack.posts().filter((p) => p.text.endsWith("never landed"))).toEqual([
      expect.objectContaining({ text: "never landed" }),
    ]);
  });

  it("Slack: a lookup Slack refuses for good (no history scope) cannot tell: posted once more, marked", async () => {
    const cuts = new Cuts().next(postMessage, "after");
    adapter = await runAdapter(createSlack, slackEnv(), { fetch: cuts.fetch });
    // The post lands, its answer is lost, and the in-doubt lookup is refused.
    slack.scriptedFor.set("conversations.history", [{ error: "missing_scope" }]);
    const route: ReplyRoute = { channel: "slack", conversation: "C-NOSCOPE" };
    expect(await deliver(sendTo(route, "no scope", "slack-doubt-4"))).toBe(200);
    expect(
      slack
        .posts()
        .filter((p) => p.channel === "C-NOSCOPE")
        .map((p) => p.text),
    ).toEqual(["no scope", `${IN_DOUBT_MARK}no scope`]);
  });

  it("Discord: the channel message's enforced nonce answers with the first message while Discord remembers it", async () => {
    adapter = await runAdapter(
      createDiscord,
      {
        PUBLIC_KEY: discord.publicKeyHex,
        APPLICATION_ID: discord.applicationId,
        BOT_TOKEN: discord.botToken,
        DISCORD_API_BASE_URL: discord.apiBaseUrl,
        K_SINK: "http://127.0.0.1:9/",
        ...channelEnv({ defaultInstance: "ops", access: "open" }),
      },
      { fetch: new Cuts().next((url) => url.includes("/channels/"), "after").fetch },
    );
    const event = sendTo({ channel: "discord", conversation: "910000000000000001" }, "nonce guarded", "dc-doubt-1");
    expect(await deliver(event)).toBe(200);
    const posted = discord.calls("channel-message").filter((c) => String(c.body.content).endsWith("nonce guarded"));
    expect(posted.map((c) => c.body.content)).toEqual(["nonce guarded"]);
    // Two requests reached Discord with the same nonce; it created one message.
    expect(discord.requests.filter((r) => r.path.endsWith("/910000000000000001/messages"))).toHaveLength(2);
  });

  it("Telegram: no way to tell, so the part is posted once more, marked as possibly repeated", async () => {
    adapter = await runAdapter(createTelegram, telegramEnv(), {
      fetch: new Cuts().next((url) => url.endsWith("/sendMessage"), "after").fetch,
    });
    const event = sendTo({ channel: "telegram", conversation: "4242" }, "maybe twice", "tg-doubt-1");
    expect(await deliver(event)).toBe(200);
    expect(sentTo("4242")).toEqual(["maybe twice", `${IN_DOUBT_MARK}maybe twice`]);
    // Recorded: the broker's redelivery posts nothing more.
    expect(await deliver(event)).toBe(200);
    expect(sentTo("4242")).toHaveLength(2);
  });

  it("a refusal the platform answered posted nothing: the retry is an ordinary post, unmarked", async () => {
    adapter = await runAdapter(createTelegram, telegramEnv());
    telegram.script.push({ error_code: 429, description: "Too Many Requests: retry after 30", retry_after: 30 });
    const event = sendTo({ channel: "telegram", conversation: "4243" }, "after the limit", "tg-doubt-2");
    expect(await deliver(event)).toBe(429);
    expect(await deliver(event)).toBe(200);
    expect(sentTo("4243")).toEqual(["after the limit"]);
  });
});
