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
          telegramTextUpdate({ updateId: 10, chatId: CHAT, fromId: USER, text: "hello", chatType: "supergroup" }),
        )
      ).status,
    ).toBe(200);
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data).toMatchObject({
      instance: "family",
      channel: "telegram",
      conversation: CHAT,
      sender: { channel: "telegram", id: USER, displayName: "ada" },
      text: "hello",
      replyTo: { channel: "telegram", conversation: CHAT },
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
