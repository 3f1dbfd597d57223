import { verifySlackRequest } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp } from "../../../functions/channels/slack/app.ts";
import { verifySlackSignature } from "../../../functions/channels/slack/signature.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import {
  FakeSlack,
  slackBlockActionsBody,
  slackMessageEvent,
  slackRequest,
  slackSignature,
} from "../../fakes/slack/server.ts";
import { eventKeysEnv } from "../../support/event-keys.ts";
import { approvalRequest, approvalVerdict } from "./support/approvals.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv } from "./support/harness.ts";
import { memoryChannelState } from "./support/memory-state.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

const SECRET = "slack-signing-secret-for-tests";
const PUBLISHED = {
  secret: "8f742231b10e8888abcd99yyyzzz85a5",
  timestamp: 1531420618,
  body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
};

let broker: RecordingBroker;
let slack: FakeSlack;
let state: ReturnType<typeof memoryChannelState>;
let served: Served | undefined;
let now: number;

async function start(config: Parameters<typeof channelEnv>[0] = { defaultInstance: "ops", access: "open" }) {
  state = memoryChannelState();
  now = Date.now();
  const app = await createApp(
    {
      SIGNING_SECRET: SECRET,
      BOT_TOKEN: slack.token,
      SLACK_API_BASE_URL: slack.apiBaseUrl,
      K_SINK: broker.url,
      ...channelEnv(config),
    },
    { state, now: () => now },
  );
  served = await serve(app, { port: 0, host: "127.0.0.1" });
  return served;
}

const events = () => `${served!.url}/channels/slack/events`;
const interactive = () => `${served!.url}/channels/slack/interactive`;
const send = (request: Request) => fetch(request);

beforeAll(async () => {
  broker = await new RecordingBroker().start();
  slack = await new FakeSlack().start();
});
afterAll(async () => {
  await broker.stop();
  await slack.stop();
});
beforeEach(() => {
  broker.events.length = 0;
  broker.failures.length = 0;
  slack.accepted.length = 0;
  slack.script.length = 0;
});
afterEach(async () => {
  await served?.shutdown();
  served = undefined;
});

describe("Slack signature verification", () => {
  it("accepts Slack's published example and refuses it once expired", () => {
    const headers = new Headers({
      "x-slack-signature": PUBLISHED.signature,
      "x-slack-request-timestamp": String(PUBLISHED.timestamp),
    });
    const body = new TextEncoder().encode(PUBLISHED.body);
    expect(verifySlackSignature(headers, body, PUBLISHED.secret, PUBLISHED.timestamp * 1000)).toBe(true);
    expect(verifySlackSignature(headers, body, PUBLISHED.secret, (PUBLISHED.timestamp + 301) * 1000)).toBe(false);
  });

  it("signs test requests the way @slack/bolt verifies them (independent oracle)", () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "hi", ts: "1.1" });
    expect(() =>
      verifySlackRequest({
        signingSecret: SECRET,
        body,
        headers: {
          "x-slack-signature": slackSignature(SECRET, String(timestamp), body),
          "x-slack-request-timestamp": timestamp,
        },
      }),
    ).not.toThrow();
    expect(slackSignature(PUBLISHED.secret, String(PUBLISHED.timestamp), PUBLISHED.body)).toBe(PUBLISHED.signature);
  });

  it("verifies the published vector through the endpoint (then refuses the body as not an Events API payload)", async () => {
    await start();
    now = PUBLISHED.timestamp * 1000;
    const app = await createApp(
      {
        SIGNING_SECRET: PUBLISHED.secret,
        BOT_TOKEN: "x",
        SLACK_API_BASE_URL: slack.apiBaseUrl,
        K_SINK: broker.url,
        ...eventKeysEnv("channel/slack", []),
      },
      { state, now: () => now },
    );
    const request = slackRequest("http://adapter/channels/slack/events", PUBLISHED.secret, PUBLISHED.body, {
      timestamp: PUBLISHED.timestamp,
      contentType: "application/x-www-form-urlencoded",
    });
    expect((await app.fetch(request)).status).toBe(400);
    now += 301_000;
    const late = slackRequest("http://adapter/channels/slack/events", PUBLISHED.secret, PUBLISHED.body, {
      timestamp: PUBLISHED.timestamp,
    });
    expect((await app.fetch(late)).status).toBe(401);
  });

  it("refuses forged, expired, future, unsigned and wrongly-prefixed requests with 401 and emits nothing", async () => {
    await start();
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "hi", ts: "1700000000.000001" });
    const forged = slackRequest(events(), "wrong-secret", body);
    const expired = slackRequest(events(), SECRET, body, { timestamp: Math.floor(now / 1000) - 301 });
    const future = slackRequest(events(), SECRET, body, { timestamp: Math.floor(now / 1000) + 301 });
    const unsigned = slackRequest(events(), SECRET, body, { signature: null });
    const v1 = slackRequest(events(), SECRET, body, {
      signature: slackSignature(SECRET, String(Math.floor(now / 1000)), body).replace("v0=", "v1="),
    });
    const tampered = new Request(events(), {
      method: "POST",
      headers: slackRequest(events(), SECRET, body).headers,
      body: body.replace("hi", "rm -rf"),
    });
    for (const request of [forged, expired, future, unsigned, v1, tampered]) {
      expect((await send(request)).status).toBe(401);
    }
    expect(broker.events).toHaveLength(0);
  });
});

describe("Slack Events API", () => {
  it("answers url_verification with the challenge", async () => {
    await start();
    const body = JSON.stringify({
      token: "t",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    });
    const response = await send(slackRequest(events(), SECRET, body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
  });

  it("turns a channel message into one message.received routed to its instance, answered in a thread", async () => {
    await start({ routes: [{ workspace: "T0001", conversation: "C42", instance: "ops" }], access: "open" });
    const body = slackMessageEvent({
      channel: "C42",
      user: "U7",
      text: "<@UBOT> how is prod?",
      ts: "1700000000.000100",
    });
    expect((await send(slackRequest(events(), SECRET, body))).status).toBe(200);
    const [event] = await broker.waitForEvents(1);
    const data = readEvent(event!, T.MESSAGE_RECEIVED);
    expect(data).toMatchObject({
      instance: "ops",
      channel: "slack",
      messageId: "1700000000.000100",
      conversation: "C42",
      sender: { channel: "slack", id: "U7", workspace: "T0001" },
      // The leading mention addressed the bot; it is not part of the question.
      text: "how is prod?",
      replyTo: { channel: "slack", conversation: "C42", workspace: "T0001", thread: "1700000000.000100" },
    });
    expect(event!.attributes.knclawinstance).toBe("ops");
    expect(event!.attributes.source).toBe("/knclaw/channels/slack");
  });

  it("keeps the thread of a threaded message and recognises chat commands", async () => {
    await start();
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "<@UBOT> /reset", ts: "2.2", thread_ts: "1.1" });
    await send(slackRequest(events(), SECRET, body));
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data.thread).toBe("1.1");
    expect(data.replyTo.thread).toBe("1.1");
    expect(data.command).toBe("reset");
  });

  it("emits once for Slack's retries; a byte-for-byte replay of a handled request is refused with 401", async () => {
    await start();
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "once", ts: "3.3" });
    const first = slackRequest(events(), SECRET, body);
    const replay = first.clone();
    expect((await send(first)).status).toBe(200);
    expect((await send(replay)).status).toBe(401);
    expect(
      (await send(slackRequest(events(), SECRET, body, { retryNum: 1, retryReason: "http_timeout" }))).status,
    ).toBe(200);
    expect((await send(slackRequest(events(), SECRET, body, { retryNum: 2, retryReason: "http_error" }))).status).toBe(
      200,
    );
    // The app_mention event Slack sends alongside the message event for the same post.
    const mention = JSON.parse(body);
    mention.event.type = "app_mention";
    mention.event_id = "EvOther";
    expect((await send(slackRequest(events(), SECRET, JSON.stringify(mention)))).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("ignores the bot's own messages, bot posts and edits", async () => {
    await start();
    for (const body of [
      slackMessageEvent({ channel: "C1", user: "UBOT", text: "mine", ts: "4.1" }),
      slackMessageEvent({ channel: "C1", user: "U1", text: "bot", ts: "4.2", bot_id: "B1" }),
      slackMessageEvent({ channel: "C1", user: "U1", text: "edit", ts: "4.3", subtype: "message_changed" }),
    ]) {
      expect((await send(slackRequest(events(), SECRET, body))).status).toBe(200);
    }
    expect(broker.events).toHaveLength(0);
  });

  it("answers malformed payloads with 400 and oversized ones with 413", async () => {
    await start();
    for (const body of [
      "{not json",
      "[]",
      JSON.stringify({ type: "event_callback" }),
      JSON.stringify({ type: "event_callback", team_id: "T", event_id: "E", event: { type: "message", channel: 5 } }),
    ]) {
      expect((await send(slackRequest(events(), SECRET, body))).status).toBe(400);
    }
    const huge = JSON.stringify({ type: "event_callback", pad: "x".repeat(2 * 1024 * 1024) });
    expect((await send(slackRequest(events(), SECRET, huge))).status).toBe(413);
    expect(broker.events).toHaveLength(0);
  });

  it("answers 503 while the broker is down, then emits exactly once on Slack's retry", async () => {
    await start();
    broker.failures.push(503, 503, 503, 503);
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "important", ts: "5.5" });
    expect((await send(slackRequest(events(), SECRET, body))).status).toBe(503);
    expect(broker.events).toHaveLength(0);
    expect((await send(slackRequest(events(), SECRET, body, { retryNum: 1, retryReason: "http_error" }))).status).toBe(
      200,
    );
    expect((await send(slackRequest(events(), SECRET, body, { retryNum: 2 }))).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("answers 503 before Slack's 3 s deadline when the broker is slow, and the retry finds the message emitted", async () => {
    await start();
    let release!: () => void;
    broker.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const body = slackMessageEvent({ channel: "C1", user: "U1", text: "slow", ts: "5.9" });
    expect((await send(slackRequest(events(), SECRET, body))).status).toBe(503);
    // Slack's retry while the first emit is still in flight is told to come back later.
    expect((await send(slackRequest(events(), SECRET, body, { retryNum: 1 }))).status).toBe(503);
    broker.hold = undefined;
    release();
    await state.kv.waitForSet((key, value) => key.endsWith(":C1:5.9") && value.startsWith("done:"));
    expect((await send(slackRequest(events(), SECRET, body, { retryNum: 2 }))).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("answers an unknown sender with a pairing code (ephemeral in channels) and starts no run until approved", async () => {
    await start({ defaultInstance: "ops" });
    const body = slackMessageEvent({ channel: "C1", user: "U9", text: "hello?", ts: "6.6" });
    expect((await send(slackRequest(events(), SECRET, body))).status).toBe(200);
    const [post] = await slack.waitFor(1);
    expect(post!.method).toBe("chat.postEphemeral");
    expect(post!.user).toBe("U9");
    const pending = [...state.identities.pending.values()][0]!;
    expect(post!.text).toContain(pending.code);
    expect(broker.events).toHaveLength(0);
    // A retry of the same delivery does not send the code again.
    await send(slackRequest(events(), SECRET, body, { retryNum: 1 }));
    expect(slack.accepted).toHaveLength(1);
    state.identities.approve(pending.code);
    const next = slackMessageEvent({ channel: "C1", user: "U9", text: "hello again", ts: "6.7" });
    expect((await send(slackRequest(events(), SECRET, next))).status).toBe(200);
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("sends the pairing code as a DM in a DM and ignores denied and unrouted senders silently", async () => {
    await start({ routes: [{ workspace: "T0001", instance: "ops" }], deny: ["U666"] });
    await send(
      slackRequest(
        events(),
        SECRET,
        slackMessageEvent({ channel: "D1", user: "U9", text: "hi", ts: "7.1", channel_type: "im" }),
      ),
    );
    expect((await slack.waitFor(1))[0]!.method).toBe("chat.postMessage");
    await send(
      slackRequest(events(), SECRET, slackMessageEvent({ channel: "C1", user: "U666", text: "hi", ts: "7.2" })),
    );
    await send(
      slackRequest(
        events(),
        SECRET,
        slackMessageEvent({ team: "T0002", channel: "C1", user: "U1", text: "hi", ts: "7.3" }),
      ),
    );
    expect(slack.accepted).toHaveLength(1);
    expect(broker.events).toHaveLength(0);
  });
});

describe("Slack outbound", () => {
  const route = { channel: "slack" as const, conversation: "C42", thread: "1700000000.000100", workspace: "T0001" };
  const sendEvent = (text: string, key = "idem-a") =>
    makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", route, text, idempotencyKey: key } });

  it("posts message.send in the thread, once per idempotency key", async () => {
    await start();
    const event = sendEvent("all green");
    expect((await send(deliveryRequest(`${served!.url}/`, event))).status).toBe(200);
    expect((await send(deliveryRequest(`${served!.url}/`, event))).status).toBe(200);
    expect(slack.posts()).toEqual([
      expect.objectContaining({ channel: "C42", text: "all green", thread_ts: route.thread }),
    ]);
  });

  it("splits long text at Slack's section limit", async () => {
    await start();
    const text = `${"word ".repeat(700)}\n\n${"more ".repeat(300)}`;
    expect((await send(deliveryRequest(`${served!.url}/`, sendEvent(text, "long")))).status).toBe(200);
    const posts = slack.posts();
    expect(posts.length).toBe(2);
    for (const post of posts) expect(post.text.length).toBeLessThanOrEqual(3000);
  });

  it("passes Slack's 429 back to the broker with Retry-After and posts once after the retry", async () => {
    await start();
    slack.script.push({ status: 429, retryAfter: 30 });
    const event = sendEvent("later", "rl");
    const first = await send(deliveryRequest(`${served!.url}/`, event));
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("30");
    expect((await send(deliveryRequest(`${served!.url}/`, event))).status).toBe(200);
    expect(slack.posts()).toHaveLength(1);
  });

  it("maps ok:false errors: channel_not_found is permanent (422), invalid_auth is 403, 5xx is 503", async () => {
    await start();
    slack.script.push({ error: "channel_not_found" });
    expect((await send(deliveryRequest(`${served!.url}/`, sendEvent("x", "e1")))).status).toBe(422);
    slack.script.push({ error: "invalid_auth" });
    expect((await send(deliveryRequest(`${served!.url}/`, sendEvent("x", "e2")))).status).toBe(403);
    slack.script.push({ status: 500 }, { status: 500 }, { status: 500 });
    expect((await send(deliveryRequest(`${served!.url}/`, sendEvent("x", "e3")))).status).toBe(503);
    expect(slack.posts()).toHaveLength(0);
  });

  const approverEntry = "slack:T0001/U-APPROVER";
  const actionsOf = (post: { blocks?: unknown[] }) =>
    (post.blocks as Array<{ type: string; elements?: Array<{ value: string; text: { text: string } }> }>).find(
      (b) => b.type === "actions",
    )!.elements!;
  const pressAs = (user: string, value: string, triggerId: string, messageTs = "1.1") =>
    send(
      slackRequest(
        interactive(),
        SECRET,
        slackBlockActionsBody({ user, channel: "C42", messageTs, threadTs: route.thread, value, triggerId }),
        { contentType: "application/x-www-form-urlencoded" },
      ),
    );

  it("round-trips an approval: a press is only acknowledged, the agent's verdict updates the prompt once", async () => {
    await start({ defaultInstance: "ops", access: "pairing", allow: ["U-APPROVER"] });
    const approval = approvalRequest({ approvalId: "ap-7", replyTo: route, approvers: [approverEntry] });
    expect((await send(deliveryRequest(`${served!.url}/`, approval))).status).toBe(200);
    const [prompt] = slack.posts();
    expect(prompt!.thread_ts).toBe(route.thread);
    const actions = actionsOf(prompt!);
    expect(actions.map((a) => a.text.text)).toEqual(["Approve", "Deny"]);
    const press = slackBlockActionsBody({
      user: "U-APPROVER",
      channel: "C42",
      messageTs: prompt!.ts,
      threadTs: route.thread,
      value: actions[0]!.value,
      triggerId: "trig-1",
    });
    const stamp = Math.floor(Date.now() / 1000);
    const pressRequest = (timestamp: number) =>
      slackRequest(interactive(), SECRET, press, { contentType: "application/x-www-form-urlencoded", timestamp });
    const first = pressRequest(stamp);
    const replay = first.clone();
    expect((await send(first)).status).toBe(200);
    expect((await send(replay)).status).toBe(401);
    expect((await send(pressRequest(stamp + 1))).status).toBe(200);
    const decided = broker.ofType(T.APPROVAL_DECIDED);
    expect(decided).toHaveLength(1);
    expect(readEvent(decided[0]!, T.APPROVAL_DECIDED)).toMatchObject({
      approvalId: "ap-7",
      runId: "run-ap-7",
      callId: "1-0",
      digest: `sha256:${"b".repeat(64)}`,
      decision: "approve",
      decidedBy: { channel: "slack", id: "U-APPROVER", workspace: "T0001" },
    });
    // Nothing in the chat claims a decision before the agent made one.
    expect(slack.posts("chat.update")).toHaveLength(0);
    expect(slack.posts("chat.postEphemeral")).toHaveLength(0);
    const verdict = approvalVerdict({
      approvalId: "ap-7",
      replyTo: route,
      outcome: "approved",
      decidedBy: { channel: "slack", id: "U-APPROVER", workspace: "T0001" },
    });
    expect((await send(deliveryRequest(`${served!.url}/`, verdict))).status).toBe(200);
    expect((await send(deliveryRequest(`${served!.url}/`, verdict))).status).toBe(200);
    const updates = slack.posts("chat.update");
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ channel: "C42", ts: prompt!.ts, blocks: [] });
    expect(updates[0]!.text).toContain("scale");
    expect(updates[0]!.text.endsWith("Approved by <@U-APPROVER>")).toBe(true);
    // Pressed after the verdict: the presser is told it is closed, and nothing goes to the agent.
    expect((await pressAs("U-APPROVER", actions[1]!.value, "trig-late")).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(1);
    expect(slack.posts("chat.postEphemeral")).toEqual([
      expect.objectContaining({ user: "U-APPROVER", text: "This was already approved." }),
    ]);
  });

  it("a presser who may not approve is told so, ephemerally; nothing is sent and the prompt stays for the approver", async () => {
    await start({ defaultInstance: "ops", access: "pairing", allow: ["U-APPROVER", "U-BOB"] });
    const approval = approvalRequest({ approvalId: "ap-9", replyTo: route, approvers: [approverEntry] });
    await send(deliveryRequest(`${served!.url}/`, approval));
    const prompt = slack.posts()[0]!;
    const [approve] = actionsOf(prompt);
    expect((await pressAs("U-BOB", approve!.value, "bob-1", prompt.ts)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(0);
    expect(slack.posts("chat.update")).toHaveLength(0);
    expect(slack.posts("chat.postEphemeral")).toEqual([
      expect.objectContaining({ channel: "C42", user: "U-BOB", text: "You may not approve this." }),
    ]);
    // The approver still can: the decision goes out, and the agent's refusal of someone else reaches only them.
    expect((await pressAs("U-APPROVER", approve!.value, "ok-1", prompt.ts)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(1);
    const refusal = approvalVerdict({
      approvalId: "ap-9",
      replyTo: route,
      outcome: "refused",
      decidedBy: { channel: "slack", id: "U-BOB", workspace: "T0001" },
      reason: "U-BOB may not approve this call",
      id: "refusal-1",
    });
    expect((await send(deliveryRequest(`${served!.url}/`, refusal))).status).toBe(200);
    expect((await send(deliveryRequest(`${served!.url}/`, refusal))).status).toBe(200);
    expect(slack.posts("chat.postEphemeral").map((p) => [p.user, p.text])).toEqual([
      ["U-BOB", "You may not approve this."],
      ["U-BOB", "Your decision was refused: U-BOB may not approve this call."],
    ]);
    expect(slack.posts("chat.update")).toHaveLength(0);
    expect(slack.posts()).toHaveLength(1);
  });

  it("an expired approval: the prompt says so and loses its buttons, a late press is told it expired", async () => {
    await start({ defaultInstance: "ops", access: "open" });
    await send(
      deliveryRequest(
        `${served!.url}/`,
        approvalRequest({ approvalId: "ap-x", replyTo: route, approvers: [approverEntry] }),
      ),
    );
    const prompt = slack.posts()[0]!;
    const verdict = approvalVerdict({
      approvalId: "ap-x",
      replyTo: route,
      outcome: "expired",
      reason: "the approval timed out before a decision (default: deny)",
    });
    expect((await send(deliveryRequest(`${served!.url}/`, verdict))).status).toBe(200);
    expect(slack.posts("chat.update")[0]!.text).toMatch(/Expired: the approval timed out/);
    expect((await pressAs("U-APPROVER", actionsOf(prompt)[0]!.value, "late-1", prompt.ts)).status).toBe(200);
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(0);
    expect(slack.posts("chat.postEphemeral")[0]!.text).toBe("This approval has expired.");
  });

  it("ignores presses from senders who may not talk, from other channels, and of unknown buttons", async () => {
    await start({ defaultInstance: "ops", access: "allowlist", allow: ["U-APPROVER"] });
    const approval = makeEvent(T.APPROVAL_REQUESTED, {
      source: "/agent",
      data: {
        approvalId: "ap-8",
        runId: "run-8",
        callId: "call-8",
        instance: "ops",
        skill: "k8s",
        tool: "scale",
        arguments: {},
        digest: `sha256:${"c".repeat(64)}`,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        replyTo: route,
      },
    });
    await send(deliveryRequest(`${served!.url}/`, approval));
    const value = (slack.posts()[0]!.blocks as Array<{ elements?: Array<{ value: string }> }>)[1]!.elements![0]!.value;
    const press = (fields: { user: string; channel: string; value: string; triggerId: string }) =>
      send(
        slackRequest(interactive(), SECRET, slackBlockActionsBody({ ...fields, messageTs: "1.1" }), {
          contentType: "application/x-www-form-urlencoded",
        }),
      );
    expect((await press({ user: "U-STRANGER", channel: "C42", value, triggerId: "t1" })).status).toBe(200);
    expect((await press({ user: "U-APPROVER", channel: "C-OTHER", value, triggerId: "t2" })).status).toBe(200);
    expect(
      (await press({ user: "U-APPROVER", channel: "C42", value: "kc1:AAAAAAAAAAAAAAAAAAAAAA", triggerId: "t3" }))
        .status,
    ).toBe(200);
    expect(broker.events).toHaveLength(0);
    // Someone who may not talk to the instance learns nothing, not even that they may not approve.
    expect(slack.posts("chat.postEphemeral")).toHaveLength(0);
    const forged = slackRequest(
      interactive(),
      "nope",
      slackBlockActionsBody({ user: "U-APPROVER", channel: "C42", messageTs: "1.1", value, triggerId: "t4" }),
      {
        contentType: "application/x-www-form-urlencoded",
      },
    );
    expect((await send(forged)).status).toBe(401);
    const malformed = slackRequest(interactive(), SECRET, "payload=%7Bnot", {
      contentType: "application/x-www-form-urlencoded",
    });
    expect((await send(malformed)).status).toBe(400);
    expect(broker.events).toHaveLength(0);
  });
});

describe("Slack chat behaviour", () => {
  const emitted = () => broker.ofType(T.MESSAGE_RECEIVED).map((e) => readEvent(e, T.MESSAGE_RECEIVED).text);
  const deliver = (body: string) => send(slackRequest(events(), SECRET, body));

  it("in a channel, by default, answers only what addresses the bot: its mention or an app_mention; DMs always", async () => {
    await start();
    const base = { channel: "C1", user: "U1" };
    expect((await deliver(slackMessageEvent({ ...base, text: "lunch?", ts: "10.1", addressed: false }))).status).toBe(
      200,
    );
    await deliver(slackMessageEvent({ ...base, text: "<@U777> can you look", ts: "10.2", addressed: false }));
    await deliver(slackMessageEvent({ ...base, text: "what is up", ts: "10.3" }));
    await deliver(slackMessageEvent({ ...base, text: "thanks <@UBOT>, and the logs?", ts: "10.4", addressed: false }));
    const mention = JSON.parse(slackMessageEvent({ ...base, text: "<@UBOT> from app_mention", ts: "10.5" }));
    mention.event.type = "app_mention";
    delete mention.event.channel_type;
    await deliver(JSON.stringify(mention));
    await deliver(
      slackMessageEvent({
        ...base,
        channel: "G1",
        channel_type: "mpim",
        text: "group dm",
        ts: "10.6",
        addressed: false,
      }),
    );
    await deliver(slackMessageEvent({ channel: "D1", user: "U1", text: "direct", ts: "10.7", channel_type: "im" }));
    await broker.waitForEvents(4);
    expect(emitted()).toEqual(["what is up", "thanks <@UBOT>, and the logs?", "from app_mention", "direct"]);
  });

  it("group policy per channel: a channel without mentions, an allowlist, disabled", async () => {
    await start({
      defaultInstance: "ops",
      access: "open",
      groups: { policy: "allowlist", groups: { C2: { requireMention: false } } },
    });
    await deliver(
      slackMessageEvent({ channel: "C2", user: "U1", text: "standup notes", ts: "11.1", addressed: false }),
    );
    await deliver(slackMessageEvent({ channel: "C3", user: "U1", text: "not listed", ts: "11.2" }));
    await broker.waitForEvents(1);
    expect(emitted()).toEqual(["standup notes"]);
    await served!.shutdown();
    broker.events.length = 0;
    await start({ defaultInstance: "ops", access: "open", groups: { policy: "disabled" } });
    await deliver(slackMessageEvent({ channel: "C2", user: "U1", text: "in a channel", ts: "11.3" }));
    await deliver(slackMessageEvent({ channel: "D1", user: "U1", text: "dm only", ts: "11.4", channel_type: "im" }));
    await broker.waitForEvents(1);
    expect(emitted()).toEqual(["dm only"]);
  });

  it("edits and deletions are ignored: the original was answered", async () => {
    await start();
    for (const subtype of ["message_changed", "message_deleted"]) {
      const body = slackMessageEvent({
        channel: "D1",
        user: "U1",
        text: "edited",
        ts: "12.1",
        channel_type: "im",
        subtype,
      });
      expect((await deliver(body)).status).toBe(200);
    }
    expect(broker.events).toHaveLength(0);
  });

  const route = { channel: "slack" as const, conversation: "C42", thread: "1700000000.000100", workspace: "T0001" };
  const answer = (text: string, key: string) =>
    makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", runId: "run-sl", route, text, idempotencyKey: key },
    });
  // Paragraphs of 2,100 characters without a space: each message holds one, so 20 hold 42,000 of 63,000.
  const long = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, "0")}${"z".repeat(2097)}`).join("\n\n");

  it("an answer past 20 messages: the rest is a text file shared in the same thread, uploaded without the token", async () => {
    await start();
    slack.uploadRequests.length = 0;
    expect((await send(deliveryRequest(`${served!.url}/`, answer(long, "sl-long")))).status).toBe(200);
    expect((await send(deliveryRequest(`${served!.url}/`, answer(long, "sl-long")))).status).toBe(200);
    const messages = slack.posts();
    const files = slack.posts("files.completeUploadExternal");
    expect(messages).toHaveLength(19);
    expect(messages.every((m) => m.thread_ts === route.thread)).toBe(true);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({
      channel: "C42",
      thread_ts: route.thread,
      file: { filename: "answer-run-sl.txt" },
    });
    expect(files[0]!.text).toMatch(/^The answer continues in this file \([\d,]+ more characters\)\.$/);
    expect(`${messages.map((m) => m.text).join("\n\n")}\n\n${files[0]!.file!.content}`).toBe(long);
    expect(slack.uploadRequests).toEqual([{ authorization: null }]);
  });

  it("an app without files:write is told by Slack (missing_scope): the thread says what was cut and where it is", async () => {
    await start();
    slack.scopes.delete("files:write");
    try {
      expect((await send(deliveryRequest(`${served!.url}/`, answer(long, "sl-scope")))).status).toBe(200);
    } finally {
      slack.scopes.add("files:write");
    }
    const messages = slack.posts();
    expect(messages).toHaveLength(20);
    expect(messages.at(-1)!.text).toMatch(
      /^\[[\d,]+ more characters are not shown: this chat takes 20 messages per answer\. The whole answer is run run-sl in the operator console \(\/console\/runs\/run-sl\)\.\]$/,
    );
    expect(slack.posts("files.completeUploadExternal")).toHaveLength(0);
  });
});
