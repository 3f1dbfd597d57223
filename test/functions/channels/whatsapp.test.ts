import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp } from "../../../functions/channels/whatsapp/app.ts";
import {
  buttonReply,
  FakeWhatsApp,
  metaJson,
  textMessage,
  whatsappNotification,
  whatsappRequest,
} from "../../fakes/whatsapp/server.ts";
import { approvalRequest, approvalVerdict } from "./support/approvals.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

const APP_SECRET = "whatsapp-app-secret";
const VERIFY_TOKEN = "verify-me-please";
const BUSINESS = "106540352242922";
const PERSON = "4915112345678";

let broker: RecordingBroker;
let whatsapp: FakeWhatsApp;
let adapter: RunningAdapter | undefined;

async function start(config: Parameters<typeof channelEnv>[0] = { defaultInstance: "ops", access: "open" }) {
  adapter = await runAdapter(createApp, {
    APP_SECRET,
    VERIFY_TOKEN,
    ACCESS_TOKEN: whatsapp.accessToken,
    PHONE_NUMBER_ID: BUSINESS,
    WHATSAPP_API_BASE_URL: whatsapp.apiBaseUrl,
    K_SINK: broker.url,
    ...channelEnv(config),
  });
  return adapter;
}
const webhook = () => `${adapter!.url}/channels/whatsapp/webhook`;
const notify = (payload: unknown, secret: string | null = APP_SECRET) =>
  fetch(whatsappRequest(webhook(), secret, metaJson(payload)));

beforeAll(async () => {
  broker = await new RecordingBroker().start();
  whatsapp = await new FakeWhatsApp().start();
});
afterAll(async () => {
  await broker.stop();
  await whatsapp.stop();
});
beforeEach(() => {
  broker.events.length = 0;
  broker.failures.length = 0;
  whatsapp.accepted.length = 0;
  whatsapp.script.length = 0;
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

describe("WhatsApp webhook", () => {
  it("echoes the challenge for the right verify token and refuses others with 403", async () => {
    await start();
    const ok = await fetch(`${webhook()}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("1158201444");
    for (const query of [
      "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
      "hub.mode=unsubscribe&hub.verify_token=verify-me-please&hub.challenge=1",
      "hub.mode=subscribe&hub.challenge=1",
    ]) {
      expect((await fetch(`${webhook()}?${query}`)).status).toBe(403);
    }
  });

  it("verifies the signature over the raw escaped-unicode bytes, and refuses forged or unsigned posts", async () => {
    await start();
    const payload = whatsappNotification(
      BUSINESS,
      [textMessage(PERSON, "wamid.A1", "Grüße 👋")],
      [{ wa_id: PERSON, name: "Jürgen" }],
    );
    const raw = metaJson(payload);
    expect(raw).toContain("\\u00fc");
    expect((await fetch(whatsappRequest(webhook(), "wrong", raw))).status).toBe(401);
    expect((await fetch(whatsappRequest(webhook(), null, raw))).status).toBe(401);
    // Re-serialised JSON (same content, different bytes) must not verify against a signature over the original.
    const signed = whatsappRequest(webhook(), APP_SECRET, raw);
    const reserialised = new Request(webhook(), {
      method: "POST",
      headers: signed.headers,
      body: JSON.stringify(payload),
    });
    expect((await fetch(reserialised)).status).toBe(401);
    expect(broker.events).toHaveLength(0);
    expect((await fetch(whatsappRequest(webhook(), APP_SECRET, raw))).status).toBe(200);
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data).toMatchObject({
      channel: "whatsapp",
      messageId: "wamid.A1",
      conversation: PERSON,
      text: "Grüße 👋",
      sender: { channel: "whatsapp", id: PERSON, workspace: BUSINESS, displayName: "Jürgen" },
      replyTo: { channel: "whatsapp", conversation: PERSON, workspace: BUSINESS },
    });
  });

  it("routes by business number and emits once for a repeated wamid", async () => {
    await start({ routes: [{ workspace: BUSINESS, instance: "shop" }], access: "open" });
    const payload = whatsappNotification(BUSINESS, [textMessage(PERSON, "wamid.B1", "hi")]);
    for (let i = 0; i < 3; i++) expect((await notify(payload)).status).toBe(200);
    const received = broker.ofType(T.MESSAGE_RECEIVED);
    expect(received).toHaveLength(1);
    expect(readEvent(received[0]!, T.MESSAGE_RECEIVED).instance).toBe("shop");
  });

  it("accepts every message of a batch or none: a broker failure mid-batch gets a retryable answer", async () => {
    await start();
    const payload = whatsappNotification(BUSINESS, [
      textMessage(PERSON, "wamid.C1", "one"),
      textMessage(PERSON, "wamid.C2", "two"),
    ]);
    // The first message is accepted, the second fails all of the client's attempts.
    broker.failures.push(0, 503, 503, 503, 503);
    const firstTry = await notify(payload);
    expect(firstTry.status).toBe(503);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
    expect((await notify(payload)).status).toBe(200);
    const texts = broker.ofType(T.MESSAGE_RECEIVED).map((e) => readEvent(e, T.MESSAGE_RECEIVED).text);
    expect(texts.sort()).toEqual(["one", "two"]);
  });

  it("ignores status updates and stale messages, answers malformed bodies with 400 and oversized with 413", async () => {
    await start();
    const statuses = whatsappNotification(BUSINESS, []);
    (statuses as { entry: Array<{ changes: Array<{ value: Record<string, unknown> }> }> }).entry[0]!
      .changes[0]!.value.statuses = [
      { id: "wamid.X", status: "delivered", timestamp: "1700000000", recipient_id: PERSON },
    ];
    expect((await notify(statuses)).status).toBe(200);
    const stale = whatsappNotification(BUSINESS, [
      textMessage(PERSON, "wamid.OLD", "old", Math.floor(Date.now() / 1000) - 8 * 24 * 3600),
    ]);
    expect((await notify(stale)).status).toBe(200);
    expect(broker.events).toHaveLength(0);
    for (const bad of [
      { object: "page", entry: [] },
      { entry: "x" },
      whatsappNotification(BUSINESS, [{ from: PERSON }]),
    ]) {
      expect((await notify(bad)).status).toBe(400);
    }
    expect((await fetch(whatsappRequest(webhook(), APP_SECRET, "{oops"))).status).toBe(400);
    expect((await notify({ object: "whatsapp_business_account", pad: "x".repeat(2 * 1024 * 1024) })).status).toBe(413);
  });

  it("sends an unknown number a pairing code from the business number and starts no run", async () => {
    const running = await start({ defaultInstance: "ops" });
    expect((await notify(whatsappNotification(BUSINESS, [textMessage(PERSON, "wamid.D1", "hello")]))).status).toBe(200);
    const [sent] = await whatsapp.waitFor(1);
    expect(sent!.phoneNumberId).toBe(BUSINESS);
    expect(sent!.body).toMatchObject({ to: PERSON, type: "text" });
    expect(JSON.stringify(sent!.body)).toContain([...running.state.identities.pending.values()][0]!.code);
    expect(broker.events).toHaveLength(0);
  });
});

describe("WhatsApp outbound", () => {
  const route: ReplyRoute = { channel: "whatsapp", conversation: PERSON, workspace: BUSINESS };

  it("sends text from the route's business number, once, split at 4096", async () => {
    await start();
    const send = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", route, text: `${"x".repeat(4090)} ${"y".repeat(10)}`, idempotencyKey: "wa-1" },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send))).status).toBe(200);
    expect(whatsapp.accepted.map((s) => (s.body.text as { body: string }).body.length)).toEqual([4090, 10]);
  });

  it("maps Graph errors by code: 130429 is a rate limit, 131047 permanent, 190 credentials, 131000 transient", async () => {
    await start();
    const send = (key: string) =>
      makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", route, text: "x", idempotencyKey: key } });
    whatsapp.script.push({ status: 400, code: 130429, message: "(#130429) Rate limit hit" });
    whatsapp.script.push({ status: 400, code: 130429, message: "(#130429) Rate limit hit" });
    whatsapp.script.push({ status: 400, code: 130429, message: "(#130429) Rate limit hit" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("w1")))).status).toBe(429);
    whatsapp.script.push({ status: 400, code: 131047, message: "Re-engagement message" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("w2")))).status).toBe(422);
    whatsapp.script.push({ status: 401, code: 190, message: "Error validating access token" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("w3")))).status).toBe(403);
    whatsapp.script.push(...[1, 2, 3].map(() => ({ status: 500, code: 131000, message: "Something went wrong" })));
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send("w4")))).status).toBe(503);
    expect(whatsapp.accepted).toHaveLength(0);
  });

  it("renders approvals as reply buttons (1024-character body) and a press becomes approval.decided", async () => {
    await start({ defaultInstance: "ops", allow: [PERSON] });
    const approval = makeEvent(T.APPROVAL_REQUESTED, {
      source: "/agent",
      data: {
        approvalId: "ap-wa",
        runId: "run-wa",
        callId: "call-wa",
        instance: "ops",
        skill: "payments",
        tool: "refund",
        arguments: { order: "A-1", amount: 12, note: "n".repeat(1400) },
        digest: `sha256:${"f".repeat(64)}`,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        replyTo: route,
      },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, approval))).status).toBe(200);
    const interactive = whatsapp.accepted.find((s) => s.body.type === "interactive")!;
    const body = interactive.body.interactive as {
      body: { text: string };
      action: { buttons: Array<{ reply: { id: string; title: string } }> };
    };
    expect(body.body.text.length).toBeLessThanOrEqual(1024);
    expect(body.action.buttons.map((b) => b.reply.title)).toEqual(["Approve", "Deny"]);
    const press = whatsappNotification(BUSINESS, [
      buttonReply(PERSON, "wamid.P1", body.action.buttons[0]!.reply.id, "Approve"),
    ]);
    expect((await notify(press)).status).toBe(200);
    expect((await notify(press)).status).toBe(200);
    const decided = broker.ofType(T.APPROVAL_DECIDED);
    expect(decided).toHaveLength(1);
    expect(readEvent(decided[0]!, T.APPROVAL_DECIDED)).toMatchObject({
      approvalId: "ap-wa",
      decision: "approve",
      decidedBy: { channel: "whatsapp", id: PERSON, workspace: BUSINESS },
    });
    // Nothing answers the press itself; the agent's verdict arrives as a message (WhatsApp cannot edit one), once.
    const prompted = whatsapp.accepted.length;
    const verdict = approvalVerdict({
      approvalId: "ap-wa",
      replyTo: route,
      outcome: "approved",
      decidedBy: { channel: "whatsapp", id: PERSON, workspace: BUSINESS, displayName: "Ada" },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    expect(whatsapp.accepted.slice(prompted).map((sent) => sent.body)).toEqual([
      expect.objectContaining({ to: PERSON, type: "text", text: { body: "Approved by Ada", preview_url: false } }),
    ]);
  });

  it("a presser who may not approve is told so in a message to them, and no decision is sent", async () => {
    await start({ defaultInstance: "ops", allow: [PERSON] });
    const approval = approvalRequest({ approvalId: "ap-wa2", replyTo: route, approvers: ["person:boss"] });
    await fetch(deliveryRequest(`${adapter!.url}/`, approval));
    const body = whatsapp.accepted[0]!.body.interactive as { action: { buttons: Array<{ reply: { id: string } }> } };
    const press = whatsappNotification(BUSINESS, [
      buttonReply(PERSON, "wamid.P2", body.action.buttons[0]!.reply.id, "Approve"),
    ]);
    expect((await notify(press)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(0);
    expect(whatsapp.accepted.slice(1).map((sent) => sent.body)).toEqual([
      expect.objectContaining({
        to: PERSON,
        type: "text",
        text: { body: "You may not approve this.", preview_url: false },
      }),
    ]);
  });
});

describe("WhatsApp chat behaviour", () => {
  const route = (asked: string): ReplyRoute => ({
    channel: "whatsapp",
    conversation: PERSON,
    workspace: BUSINESS,
    meta: { replyToMessage: asked },
  });
  const answer = (to: ReplyRoute, text: string, key: string) =>
    makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", runId: "run-wa", route: to, text, idempotencyKey: key },
    });

  it("a message's route names it, and the answer's first part quotes it (context.message_id); later parts do not", async () => {
    await start();
    const wamid = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBBRkM1";
    expect((await notify(whatsappNotification(BUSINESS, [textMessage(PERSON, wamid, "which one?")]))).status).toBe(200);
    const received = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(received.replyTo).toEqual(route(wamid));
    const text = `${"a".repeat(4000)} ${"b".repeat(100)}`;
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(received.replyTo, text, "wa-q")))).status).toBe(200);
    const [first, second] = whatsapp.accepted;
    expect(first!.body.context).toEqual({ message_id: wamid });
    expect(second!.body.context).toBeUndefined();
  });

  it("an answer past 10 messages: the rest is a text document with a caption, nothing dropped, posted once", async () => {
    await start();
    // Paragraphs of 2,100 characters without a space: each message holds one, so 10 hold 21,000 of 63,000.
    const long = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, "0")}${"z".repeat(2097)}`).join("\n\n");
    const event = answer(route("wamid.asked"), long, "wa-long");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, event))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, event))).status).toBe(200);
    const messages = whatsapp.accepted.filter((s) => s.body.type === "text");
    const documents = whatsapp.accepted.filter((s) => s.body.type === "document");
    expect(messages).toHaveLength(9);
    expect(documents).toHaveLength(1);
    expect(documents[0]!.media).toMatchObject({ filename: "answer-run-wa.txt", type: "text/plain" });
    expect(documents[0]!.body.document).toMatchObject({ filename: "answer-run-wa.txt" });
    expect(String((documents[0]!.body.document as { caption: string }).caption)).toMatch(
      /^The answer continues in this file \([\d,]+ more characters\)\.$/,
    );
    const bodies = messages.map((m) => (m.body.text as { body: string }).body);
    expect(`${bodies.join("\n\n")}\n\n${documents[0]!.media!.content}`).toBe(long);
  });
});
