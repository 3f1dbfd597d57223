import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp } from "../../../functions/channels/telegram/app.ts";
import {
  FakeTelegram,
  telegramCallbackUpdate,
  telegramRequest,
  telegramTextUpdate,
} from "../../fakes/telegram/server.ts";
import { approvalRequest, approvalVerdict } from "./support/approvals.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

const SECRET = "tg_webhook-Secret_123";
// Above 2^32 on purpose: Telegram ids do not fit 32 bits.
const CHAT = "-1001234567890123";
const USER = "5123456789012";

let broker: RecordingBroker;
let telegram: FakeTelegram;
let adapter: RunningAdapter | undefined;

async function start(config: Parameters<typeof channelEnv>[0] = { defaultInstance: "ops", access: "open" }) {
  adapter = await runAdapter(createApp, {
    BOT_TOKEN: telegram.token,
    WEBHOOK_SECRET: SECRET,
    TELEGRAM_API_BASE_URL: telegram.url,
    K_SINK: broker.url,
    ...channelEnv(config),
  });
  return adapter;
}
const webhook = () => `${adapter!.url}/channels/telegram/webhook`;
const post = (update: string, secret: string | null = SECRET) => fetch(telegramRequest(webhook(), secret, update));

beforeAll(async () => {
  broker = await new RecordingBroker().start();
  telegram = await new FakeTelegram().start();
});
afterAll(async () => {
  await broker.stop();
  await telegram.stop();
});
beforeEach(() => {
  broker.events.length = 0;
  broker.failures.length = 0;
  telegram.accepted.length = 0;
  telegram.script.length = 0;
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

describe("Telegram webhook", () => {
  it("refuses a missing or wrong secret token with 401 and emits nothing", async () => {
    await start();
    const update = telegramTextUpdate({ updateId: 1, chatId: CHAT, fromId: USER, text: "hi" });
    expect((await post(update, null)).status).toBe(401);
    expect((await post(update, "wrong")).status).toBe(401);
    expect((await post(update, `${SECRET}x`)).status).toBe(401);
    expect((await post(update, SECRET.slice(0, -1))).status).toBe(401);
    expect(broker.events).toHaveLength(0);
  });

  it("turns a message into message.received with ids kept exact beyond 32 bits", async () => {
    await start({ routes: [{ conversation: CHAT, instance: "family" }], access: "open" });
    expect(
      (
        await post(
          telegramTextUpdate({
            updateId: 10,
            chatId: CHAT,
            fromId: USER,
            text: "@knclaw_test_bot hello",
            chatType: "supergroup",
            entities: [{ type: "mention", offset: 0, length: 16 }],
          }),
        )
      ).status,
    ).toBe(200);
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data).toMatchObject({
      instance: "family",
      channel: "telegram",
      conversation: CHAT,
      sender: { channel: "telegram", id: USER, displayName: "ada" },
      text: "@knclaw_test_bot hello",
      replyTo: { channel: "telegram", conversation: CHAT, meta: { replyToMessage: "10" } },
    });
  });

  it("keeps forum topics as threads and recognises /reset@bot", async () => {
    await start();
    await post(
      telegramTextUpdate({ updateId: 11, chatId: CHAT, fromId: USER, text: "/reset@knclaw_bot", threadId: 77 }),
    );
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data.thread).toBe("77");
    expect(data.replyTo.thread).toBe("77");
    expect(data.command).toBe("reset");
  });

  it("emits once for a repeated update_id", async () => {
    await start();
    const update = telegramTextUpdate({ updateId: 12, chatId: CHAT, fromId: USER, text: "once" });
    for (let i = 0; i < 3; i++) expect((await post(update)).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("ignores bots (itself included) and answers malformed updates with 400, oversized with 413", async () => {
    await start();
    expect(
      (await post(telegramTextUpdate({ updateId: 13, chatId: CHAT, fromId: "123456789", text: "me", isBot: true })))
        .status,
    ).toBe(200);
    for (const bad of [
      "{",
      "{}",
      '{"update_id":"x"}',
      '{"update_id":1,"message":{"chat":{}}}',
      `{"update_id":1e300}`,
    ]) {
      expect((await post(bad)).status).toBe(400);
    }
    expect((await post(`{"update_id":14,"pad":"${"x".repeat(2 * 1024 * 1024)}"}`)).status).toBe(413);
    expect(broker.events).toHaveLength(0);
  });

  it("answers 503 when the broker is down so Telegram redelivers, and emits once when it does", async () => {
    await start();
    broker.failures.push(500, 500, 500, 500);
    const update = telegramTextUpdate({ updateId: 15, chatId: CHAT, fromId: USER, text: "keep me" });
    expect((await post(update)).status).toBe(503);
    expect((await post(update)).status).toBe(200);
    expect((await post(update)).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("sends an unknown sender a pairing code and no run", async () => {
    const running = await start({ defaultInstance: "ops" });
    expect(
      (await post(telegramTextUpdate({ updateId: 16, chatId: USER, fromId: USER, text: "who are you" }))).status,
    ).toBe(200);
    const [call] = await telegram.waitFor(1);
    const code = [...running.state.identities.pending.values()][0]!.code;
    expect(call!.body).toMatchObject({ chat_id: USER });
    expect(String(call!.body.text)).toContain(code);
    expect(broker.events).toHaveLength(0);
  });
});

describe("Telegram outbound", () => {
  const route = { channel: "telegram" as const, conversation: CHAT, thread: "77" };
  const send = (text: string, key: string) =>
    makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", route, text, idempotencyKey: key } });

  it("posts sendMessage into the topic, once per idempotency key, split at 4096", async () => {
    await start();
    const event = send(`${"a".repeat(4000)} ${"b".repeat(1000)}`, "tg-1");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, event))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, event))).status).toBe(200);
    const calls = telegram.calls("sendMessage");
    expect(calls).toHaveLength(2);
    expect(calls[0]!.body).toMatchObject({ chat_id: CHAT, message_thread_id: 77, text: "a".repeat(4000) });
    expect(calls[1]!.body.text).toBe("b".repeat(1000));
  });

  it("honours error_code 429 parameters.retry_after, and maps 400/403/401", async () => {
    await start();
    telegram.script.push({ error_code: 429, description: "Too Many Requests: retry after 17", retry_after: 17 });
    const limited = await fetch(deliveryRequest(`${adapter!.url}/`, send("x", "tg-2")));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("17");
    telegram.script.push({ error_code: 400, description: "Bad Request: chat not found" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("x", "tg-3")))).status).toBe(422);
    telegram.script.push({ error_code: 403, description: "Forbidden: bot was blocked by the user" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("x", "tg-4")))).status).toBe(422);
    expect(telegram.calls("sendMessage")).toHaveLength(0);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("x", "tg-2")))).status).toBe(200);
    expect(telegram.calls("sendMessage")).toHaveLength(1);
  });

  const keyboardOf = (call: { body: Record<string, unknown> }) =>
    (call.body.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> })
      .inline_keyboard;
  const press = (updateId: number, queryId: string, fromId: string, messageId: number, data: string) =>
    post(telegramCallbackUpdate({ updateId, queryId, chatId: CHAT, fromId, messageId, data }));

  it("round-trips an approval: the press is answered 'Received', the keyboard goes only with the agent's verdict", async () => {
    await start({ defaultInstance: "ops", allow: [USER] });
    const approval = approvalRequest({ approvalId: "ap-tg", replyTo: route, approvers: [`telegram:${USER}`] });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, approval))).status).toBe(200);
    const [prompt] = telegram.calls("sendMessage");
    const keyboard = keyboardOf(prompt!);
    expect(keyboard.map((row) => row[0]!.text)).toEqual(["Approve", "Deny"]);
    const deny = keyboard[1]![0]!.callback_data;
    expect((await press(20, "q-1", USER, prompt!.message_id!, deny)).status).toBe(200);
    expect((await press(20, "q-1", USER, prompt!.message_id!, deny)).status).toBe(200);
    const decided = broker.ofType(T.APPROVAL_DECIDED);
    expect(decided).toHaveLength(1);
    expect(readEvent(decided[0]!, T.APPROVAL_DECIDED)).toMatchObject({
      approvalId: "ap-tg",
      decision: "deny",
      decidedBy: { channel: "telegram", id: USER },
    });
    expect(telegram.calls("answerCallbackQuery")[0]!.body).toEqual({ callback_query_id: "q-1", text: "Received" });
    expect(telegram.calls("editMessageText")).toHaveLength(0);
    expect(telegram.calls("editMessageReplyMarkup")).toHaveLength(0);
    const verdict = approvalVerdict({
      approvalId: "ap-tg",
      replyTo: route,
      outcome: "denied",
      decidedBy: { channel: "telegram", id: USER, displayName: "ada" },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    const edits = telegram.calls("editMessageText");
    expect(edits).toHaveLength(1);
    expect(edits[0]!.body).toMatchObject({
      chat_id: CHAT,
      message_id: prompt!.message_id,
      reply_markup: { inline_keyboard: [] },
    });
    expect(String(edits[0]!.body.text).endsWith("Denied by ada")).toBe(true);
  });

  it("a presser who may not approve gets an alert; nothing is sent, the keyboard stays, the approver decides", async () => {
    const STRANGER = "6000000000001";
    await start({ defaultInstance: "ops", access: "open" });
    const approval = approvalRequest({ approvalId: "ap-tg2", replyTo: route, approvers: [`telegram:${USER}`] });
    await fetch(deliveryRequest(`${adapter!.url}/`, approval));
    const prompt = telegram.calls("sendMessage")[0]!;
    const approve = keyboardOf(prompt)[0]![0]!.callback_data;
    expect((await press(30, "q-s", STRANGER, prompt.message_id!, approve)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(0);
    expect(telegram.calls("answerCallbackQuery")[0]!.body).toEqual({
      callback_query_id: "q-s",
      text: "You may not approve this.",
      show_alert: true,
    });
    expect(telegram.calls("editMessageText")).toHaveLength(0);
    expect((await press(31, "q-a", USER, prompt.message_id!, approve)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(1);
    // The agent's refusal of someone else's decision goes to that person's private chat with the bot, only.
    const refusal = approvalVerdict({
      approvalId: "ap-tg2",
      replyTo: route,
      outcome: "refused",
      decidedBy: { channel: "telegram", id: STRANGER },
      id: "refusal-tg",
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, refusal))).status).toBe(200);
    const told = telegram.calls("sendMessage").slice(1);
    expect(told).toEqual([expect.objectContaining({ body: { chat_id: STRANGER, text: "You may not approve this." } })]);
    // Someone who never started a private chat with the bot (Telegram: 403) is not named in the group instead: nothing
    // else in Telegram is private to them once their press was answered, so the refusal is not posted at all.
    telegram.script.push({ error_code: 403, description: "Forbidden: bot can't initiate conversation with a user" });
    const unreachable = approvalVerdict({
      approvalId: "ap-tg2",
      replyTo: route,
      outcome: "refused",
      decidedBy: { channel: "telegram", id: "6000000000002", displayName: "mallory" },
      id: "refusal-tg-2",
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, unreachable))).status).toBe(200);
    expect(telegram.script).toHaveLength(0);
    expect(telegram.calls("sendMessage").slice(1)).toEqual(told);
    expect(telegram.calls("editMessageText")).toHaveLength(0);
  });
});

describe("Telegram chat behaviour", () => {
  const group = (updateId: number, text: string, extra: Partial<Parameters<typeof telegramTextUpdate>[0]> = {}) =>
    telegramTextUpdate({ updateId, chatId: CHAT, fromId: USER, text, chatType: "supergroup", ...extra });
  const emitted = () => broker.ofType(T.MESSAGE_RECEIVED).map((e) => readEvent(e, T.MESSAGE_RECEIVED).text);

  it("in a group, by default, answers only what addresses the bot: a mention, a text mention, its command, a reply to it", async () => {
    await start();
    const asked = () => telegram.requests.filter((r) => r.path.endsWith("/getMe")).length;
    const askedBefore = asked();
    const botId = Number(telegram.token.split(":")[0]);
    expect((await post(group(101, "people talking among themselves"))).status).toBe(200);
    expect((await post(group(102, "@someone_else look"))).status).toBe(200);
    await post(group(103, "hey @KNCLAW_test_bot status?", { entities: [{ type: "mention", offset: 4, length: 16 }] }));
    await post(
      group(104, "knclaw what now", {
        entities: [{ type: "text_mention", offset: 0, length: 6, user: { id: botId, is_bot: true } }],
      }),
    );
    await post(group(105, "/status@knclaw_test_bot", { entities: [{ type: "bot_command", offset: 0, length: 23 }] }));
    await post(group(106, "and the other one?", { replyTo: { messageId: 99, fromId: String(botId), isBot: true } }));
    await post(group(107, "/status@other_bot", { entities: [{ type: "bot_command", offset: 0, length: 17 }] }));
    await post(group(108, "I agree", { replyTo: { messageId: 98, fromId: "777" } }));
    // A private chat is always for the bot.
    await post(telegramTextUpdate({ updateId: 109, chatId: USER, fromId: USER, text: "just me" }));
    await broker.waitForEvents(5);
    expect(emitted()).toEqual(["hey @KNCLAW_test_bot status?", "knclaw what now", "", "and the other one?", "just me"]);
    // Who the bot is was asked once, for the first group message.
    expect(asked() - askedBefore).toBe(1);
  });

  it("group policy per channel: requireMention off for one group, allowlist, disabled", async () => {
    const OTHER = "-1009999999999";
    await start({
      defaultInstance: "ops",
      access: "open",
      groups: { policy: "allowlist", groups: { [CHAT]: { requireMention: false } } },
    });
    await post(group(120, "anyone here?"));
    await post(
      telegramTextUpdate({
        updateId: 121,
        chatId: OTHER,
        fromId: USER,
        text: "@knclaw_test_bot hi",
        chatType: "group",
        entities: [{ type: "mention", offset: 0, length: 16 }],
      }),
    );
    await post(telegramTextUpdate({ updateId: 122, chatId: USER, fromId: USER, text: "direct" }));
    await broker.waitForEvents(2);
    expect(emitted()).toEqual(["anyone here?", "direct"]);
    await adapter!.stop();
    broker.events.length = 0;
    await start({ defaultInstance: "ops", access: "open", groups: { policy: "disabled" } });
    await post(group(123, "@knclaw_test_bot hi", { entities: [{ type: "mention", offset: 0, length: 16 }] }));
    await post(telegramTextUpdate({ updateId: 124, chatId: USER, fromId: USER, text: "still direct" }));
    await broker.waitForEvents(1);
    expect(emitted()).toEqual(["still direct"]);
  });

  it("ignores edited messages (the original was answered): no event, 200 so Telegram does not redeliver", async () => {
    await start();
    expect(
      (await post(telegramTextUpdate({ updateId: 130, chatId: USER, fromId: USER, text: "fixed typo", edited: true })))
        .status,
    ).toBe(200);
    await post(telegramTextUpdate({ updateId: 131, chatId: USER, fromId: USER, text: "next" }));
    await broker.waitForEvents(1);
    expect(emitted()).toEqual(["next"]);
  });

  const route = { channel: "telegram" as const, conversation: CHAT, meta: { replyToMessage: "555" } };
  const send = (text: string, key: string, runId = "run-tg") =>
    makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", runId, route, text, idempotencyKey: key } });

  it("the answer's first part replies to the asking message, the rest follow plainly; a deleted original still gets its answer", async () => {
    await start();
    telegram.exists(CHAT, 555);
    const event = send(`${"a".repeat(4000)} ${"b".repeat(100)}`, "tg-reply");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, event))).status).toBe(200);
    const [first, second] = telegram.calls("sendMessage");
    expect(first!.body.reply_parameters).toEqual({ message_id: 555, allow_sending_without_reply: true });
    expect(second!.body.reply_parameters).toBeUndefined();
    const gone = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: {
        instance: "ops",
        route: { ...route, meta: { replyToMessage: "556" } },
        text: "still here",
        idempotencyKey: "tg-gone",
      },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, gone))).status).toBe(200);
    expect(telegram.calls("sendMessage").at(-1)!.body.text).toBe("still here");
  });

  it("an answer past 20 messages: the rest is a text document with a caption, nothing dropped", async () => {
    await start();
    // 20 full messages would hold more than a message.send does (81,920 > 65,536 characters), but a text breaks at
    // its paragraphs: paragraphs of 2,100 characters without a space make each message one paragraph.
    const text = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, "0")}${"z".repeat(2097)}`).join("\n\n");
    expect(text.length).toBeLessThanOrEqual(64 * 1024);
    const sent = await fetch(deliveryRequest(`${adapter!.url}/`, send(text, "tg-long")));
    expect(sent.status).toBe(200);
    const messages = telegram.calls("sendMessage");
    const [document] = telegram.calls("sendDocument");
    expect(messages).toHaveLength(19);
    expect(document!.document).toMatchObject({ filename: "answer-run-tg.txt", type: "text/plain; charset=utf-8" });
    expect(String(document!.body.caption)).toMatch(/^The answer continues in this file \([\d,]+ more characters\)\.$/);
    const all = `${messages.map((m) => m.body.text).join("\n\n")}\n\n${document!.document!.content}`;
    expect(all).toBe(text);
    // A redelivery posts nothing again.
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send(text, "tg-long")))).status).toBe(200);
    expect(telegram.accepted).toHaveLength(20);
  });
});
