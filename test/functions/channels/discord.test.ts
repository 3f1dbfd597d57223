import { verifyKey } from "discord-interactions";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp } from "../../../functions/channels/discord/app.ts";
import { buttonPress, FakeDiscord, RFC8032_TEST1_PUBLIC, slashCommand } from "../../fakes/discord/server.ts";
import { approvalRequest, approvalVerdict } from "./support/approvals.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

const GUILD = "900000000000000001";
const CHANNEL = "900000000000000002";
const USER = "900000000000000003";

let broker: RecordingBroker;
let discord: FakeDiscord;
let adapter: RunningAdapter | undefined;

async function start(config: Parameters<typeof channelEnv>[0] = { defaultInstance: "ops", access: "open" }) {
  adapter = await runAdapter(createApp, {
    PUBLIC_KEY: discord.publicKeyHex,
    APPLICATION_ID: discord.applicationId,
    BOT_TOKEN: discord.botToken,
    DISCORD_API_BASE_URL: discord.apiBaseUrl,
    K_SINK: broker.url,
    ...channelEnv(config),
  });
  return adapter;
}
const endpoint = () => `${adapter!.url}/channels/discord/interactions`;
const interact = (interaction: Record<string, unknown>, options?: { timestamp?: number; signature?: string | null }) =>
  fetch(discord.interactionRequest(endpoint(), interaction, options));

beforeAll(async () => {
  broker = await new RecordingBroker().start();
  discord = await new FakeDiscord().start();
});
afterAll(async () => {
  await broker.stop();
  await discord.stop();
});
beforeEach(() => {
  broker.events.length = 0;
  broker.failures.length = 0;
  discord.accepted.length = 0;
  discord.script.length = 0;
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

describe("Discord interactions endpoint", () => {
  it("signs like Discord with the RFC 8032 test key: discord-interactions' verifyKey agrees (independent oracle)", async () => {
    expect(discord.publicKeyHex).toBe(RFC8032_TEST1_PUBLIC);
    const request = discord.interactionRequest("http://x/", { id: "1", type: 1 });
    const body = await request.text();
    const ok = await verifyKey(
      body,
      request.headers.get("x-signature-ed25519")!,
      request.headers.get("x-signature-timestamp")!,
      discord.publicKeyHex,
    );
    expect(ok).toBe(true);
  });

  it("answers PING with PONG", async () => {
    await start();
    const response = await interact({ id: "1", type: 1 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ type: 1 });
  });

  it("refuses invalid, expired, replayed-old and missing signatures with 401", async () => {
    await start();
    const now = Math.floor(Date.now() / 1000);
    expect((await interact({ id: "1", type: 1 }, { signature: "00".repeat(64) })).status).toBe(401);
    expect((await interact({ id: "1", type: 1 }, { signature: null })).status).toBe(401);
    expect((await interact({ id: "1", type: 1 }, { timestamp: now - 600 })).status).toBe(401);
    // A signature over a different timestamp than the header claims.
    const request = discord.interactionRequest(endpoint(), { id: "1", type: 1 }, { timestamp: now });
    const body = await request.text();
    const forged = new Request(endpoint(), {
      method: "POST",
      headers: { ...Object.fromEntries(request.headers), "x-signature-timestamp": String(now + 1) },
      body,
    });
    expect((await fetch(forged)).status).toBe(401);
    const command = slashCommand({ id: "2", user: USER, channel: CHANNEL, guild: GUILD, name: "ask", text: "hi" });
    expect((await interact(command, { signature: "ab".repeat(64) })).status).toBe(401);
    expect(broker.events).toHaveLength(0);
  });

  it("turns a slash command into message.received and defers the response", async () => {
    await start({ routes: [{ workspace: GUILD, instance: "guild-bot" }], access: "open" });
    const response = await interact(
      slashCommand({
        id: "1000",
        user: USER,
        channel: CHANNEL,
        guild: GUILD,
        name: "ask",
        text: "status of prod?",
        token: "tok-a",
      }),
    );
    expect(await response.json()).toEqual({ type: 5 });
    const data = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED);
    expect(data).toMatchObject({
      instance: "guild-bot",
      channel: "discord",
      messageId: "1000",
      conversation: CHANNEL,
      text: "status of prod?",
      sender: { channel: "discord", id: USER, workspace: GUILD, displayName: "Ada" },
      replyTo: {
        channel: "discord",
        conversation: CHANNEL,
        workspace: GUILD,
        meta: { interactionToken: "tok-a", applicationId: discord.applicationId },
      },
    });
  });

  it("maps /reset to the reset command and emits once for a repeated interaction id; a byte-for-byte replay is 401", async () => {
    await start();
    const command = slashCommand({ id: "1001", user: USER, channel: CHANNEL, name: "reset", token: "tok-b" });
    const now = Math.floor(Date.now() / 1000);
    const first = discord.interactionRequest(endpoint(), command, { timestamp: now });
    const replay = first.clone();
    expect(await (await fetch(first)).json()).toEqual({ type: 5 });
    expect((await fetch(replay)).status).toBe(401);
    // The same interaction id signed anew (a different timestamp) is not a replay, but still a duplicate.
    expect(await (await interact(command, { timestamp: now - 1 })).json()).toEqual({ type: 5 });
    const received = broker.ofType(T.MESSAGE_RECEIVED);
    expect(received).toHaveLength(1);
    expect(readEvent(received[0]!, T.MESSAGE_RECEIVED).command).toBe("reset");
  });

  it("tells the user to retry (ephemeral) when the broker refuses, and their retry goes through", async () => {
    await start();
    broker.failures.push(503, 503, 503, 503);
    const command = slashCommand({ id: "1002", user: USER, channel: CHANNEL, name: "ask", text: "x" });
    const first = await (await interact(command)).json();
    expect(first).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(broker.events).toHaveLength(0);
    // Discord never redelivers: the user runs the command again, which is a new interaction.
    const again = slashCommand({ id: "1004", user: USER, channel: CHANNEL, name: "ask", text: "x" });
    expect(await (await interact(again)).json()).toEqual({ type: 5 });
    expect(broker.ofType(T.MESSAGE_RECEIVED)).toHaveLength(1);
  });

  it("answers an unknown sender ephemerally with a pairing code", async () => {
    const running = await start({ defaultInstance: "ops" });
    const answer = (await (
      await interact(slashCommand({ id: "1003", user: USER, channel: CHANNEL, name: "ask", text: "hi" }))
    ).json()) as {
      type: number;
      data: { content: string; flags: number };
    };
    expect(answer.type).toBe(4);
    expect(answer.data.flags).toBe(64);
    expect(answer.data.content).toContain([...running.state.identities.pending.values()][0]!.code);
    expect(broker.events).toHaveLength(0);
  });

  it("answers malformed interactions with 400, unknown types with 400, oversized with 413", async () => {
    await start();
    expect((await interact({ id: "x", type: 2 })).status).toBe(400);
    expect((await interact({ id: "1", type: 4, channel_id: CHANNEL, user: { id: USER } })).status).toBe(400);
    const bad = discord.interactionRequest(endpoint(), { id: "1", type: 1 });
    const badBody = "{not json";
    const ts = bad.headers.get("x-signature-timestamp")!;
    const request = new Request(endpoint(), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-signature-timestamp": ts,
        "x-signature-ed25519": discord.sign(ts, badBody),
      },
      body: badBody,
    });
    expect((await fetch(request)).status).toBe(400);
    expect((await interact({ id: "1", type: 1, pad: "x".repeat(2 * 1024 * 1024) })).status).toBe(413);
  });
});

describe("Discord outbound", () => {
  it("replaces the deferred response, then follows up, for answers to a slash command", async () => {
    await start();
    await interact(
      slashCommand({ id: "2000", user: USER, channel: CHANNEL, name: "ask", text: "long one", token: "tok-c" }),
    );
    const route = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED).replyTo;
    const send = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", route, text: `${"a".repeat(1990)} ${"b".repeat(500)}`, idempotencyKey: "dc-1" },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send))).status).toBe(200);
    expect(discord.accepted.map((c) => c.kind)).toEqual(["edit-original", "follow-up"]);
    expect(discord.accepted[0]!.token).toBe("tok-c");
    expect(discord.accepted[1]!.body.content).toBe("b".repeat(500));
  });

  it("posts to the channel with an enforced nonce when there is no live interaction, and honours 429 retry_after", async () => {
    await start();
    const route: ReplyRoute = { channel: "discord", conversation: CHANNEL };
    const send = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", route, text: "hello", idempotencyKey: "dc-2" },
    });
    discord.script.push({ status: 429, retryAfter: 12.5 });
    const limited = await fetch(deliveryRequest(`${adapter!.url}/`, send));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("13");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, send))).status).toBe(200);
    const [call] = discord.calls("channel-message");
    expect(call!.channel).toBe(CHANNEL);
    expect(call!.body).toMatchObject({ content: "hello", enforce_nonce: true });
    expect(String(call!.body.nonce).length).toBeLessThanOrEqual(25);
    discord.script.push({ status: 403, code: 50001, message: "Missing Access" });
    const denied = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", route, text: "x", idempotencyKey: "dc-3" },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, denied))).status).toBe(422);
  });

  const componentsOf = (call: { body: Record<string, unknown> }) =>
    (
      call.body.components as Array<{
        type: number;
        components: Array<{ custom_id: string; label: string; style: number }>;
      }>
    )[0]!;
  const pressBy = (user: string, id: string, customId: string, messageId: string, token?: string) =>
    interact({
      ...buttonPress({ id, user, channel: CHANNEL, guild: GUILD, customId, messageId }),
      ...(token !== undefined ? { token } : {}),
    });

  it("renders approvals as components; a press is a deferred update, the message changes with the agent's verdict", async () => {
    await start({ defaultInstance: "ops", allow: [USER] });
    const route: ReplyRoute = { channel: "discord", conversation: CHANNEL, workspace: GUILD };
    const approval = approvalRequest({ approvalId: "ap-dc", replyTo: route, approvers: [`discord:${USER}`] });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, approval))).status).toBe(200);
    const [prompt] = discord.calls("channel-message");
    const row = componentsOf(prompt!);
    expect(row.type).toBe(1);
    expect(row.components.map((b) => [b.label, b.style])).toEqual([
      ["Approve", 1],
      ["Deny", 4],
    ]);
    const press = buttonPress({
      id: "3000",
      user: USER,
      channel: CHANNEL,
      guild: GUILD,
      customId: row.components[0]!.custom_id,
      messageId: prompt!.id,
    });
    // Acknowledged as received: the message and its buttons stay until the agent's verdict.
    expect(await (await interact(press)).json()).toEqual({ type: 6 });
    expect(await (await interact(press, { timestamp: Math.floor(Date.now() / 1000) - 1 })).json()).toEqual({ type: 6 });
    const decided = broker.ofType(T.APPROVAL_DECIDED);
    expect(decided).toHaveLength(1);
    expect(readEvent(decided[0]!, T.APPROVAL_DECIDED)).toMatchObject({
      approvalId: "ap-dc",
      decision: "approve",
      decidedBy: { channel: "discord", id: USER, workspace: GUILD },
    });
    expect(discord.accepted.map((call) => call.kind)).toEqual(["channel-message"]);
    const verdict = approvalVerdict({
      approvalId: "ap-dc",
      replyTo: route,
      outcome: "approved",
      decidedBy: { channel: "discord", id: USER, workspace: GUILD },
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    const edits = discord.calls("channel-edit");
    expect(edits).toHaveLength(1);
    expect(edits[0]).toMatchObject({ channel: CHANNEL, id: prompt!.id, body: { components: [] } });
    expect(String(edits[0]!.body.content).endsWith(`Approved by <@${USER}>`)).toBe(true);
  });

  it("a presser who may not approve is answered ephemerally; nothing is sent; a refusal reaches only them", async () => {
    const STRANGER = "900000000000000009";
    await start({ defaultInstance: "ops", access: "open" });
    const route: ReplyRoute = { channel: "discord", conversation: CHANNEL, workspace: GUILD };
    await fetch(
      deliveryRequest(
        `${adapter!.url}/`,
        approvalRequest({ approvalId: "ap-dc2", replyTo: route, approvers: [`discord:${USER}`] }),
      ),
    );
    const prompt = discord.calls("channel-message")[0]!;
    const approve = componentsOf(prompt).components[0]!.custom_id;
    expect(await (await pressBy(STRANGER, "3100", approve, prompt.id)).json()).toEqual({
      type: 4,
      data: { content: "You may not approve this.", flags: 64 },
    });
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(0);
    expect(await (await pressBy(USER, "3101", approve, prompt.id)).json()).toEqual({ type: 6 });
    expect(broker.ofType(T.APPROVAL_DECIDED)).toHaveLength(1);
    // Had the agent refused the approver's decision, only they would hear of it: on their own press, ephemerally.
    const refusal = approvalVerdict({
      approvalId: "ap-dc2",
      replyTo: route,
      outcome: "refused",
      decidedBy: { channel: "discord", id: USER, workspace: GUILD },
      reason: "the decision was given for other arguments than this call's",
      id: "refusal-dc",
    });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, refusal))).status).toBe(200);
    const followUps = discord.calls("follow-up");
    expect(followUps).toHaveLength(1);
    expect(followUps[0]!.body).toEqual({
      content: "Your decision was refused: the decision was given for other arguments than this call's.",
      flags: 64,
    });
    expect(discord.calls("channel-edit")).toHaveLength(0);
    expect(discord.calls("channel-message")).toHaveLength(1);
  });

  it("edits a prompt posted as an interaction's response through that interaction", async () => {
    await start({ defaultInstance: "ops", allow: [USER] });
    await interact(
      slashCommand({ id: "3200", user: USER, channel: CHANNEL, guild: GUILD, name: "ask", token: "tok-ap" }),
    );
    const route = readEvent((await broker.waitForEvents(1))[0]!, T.MESSAGE_RECEIVED).replyTo;
    await fetch(deliveryRequest(`${adapter!.url}/`, approvalRequest({ approvalId: "ap-dc3", replyTo: route })));
    const prompt = discord.calls("edit-original")[0]!;
    const verdict = approvalVerdict({ approvalId: "ap-dc3", replyTo: route, outcome: "expired" });
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, verdict))).status).toBe(200);
    const edit = discord.calls("edit-message")[0]!;
    expect(edit).toMatchObject({ token: "tok-ap", id: prompt.id, body: { components: [] } });
    expect(String(edit.body.content)).toContain("Expired");
  });
});

describe("Discord chat behaviour", () => {
  const ask = async (id: string, token: string) => {
    await interact(slashCommand({ id, user: USER, channel: CHANNEL, guild: GUILD, name: "ask", text: "q", token }));
    const events = await broker.waitForEvents(1);
    return readEvent(events.at(-1)!, T.MESSAGE_RECEIVED).replyTo;
  };
  const answer = (route: ReplyRoute, text: string, key: string) =>
    makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: { instance: "ops", runId: "run-dc", route, text, idempotencyKey: key },
    });
  // The case: 24,000 characters, where 10 messages of 2,000 hold 20,000.
  const long = Array.from({ length: 6000 }, (_, i) => `w${i % 1000}`)
    .join(" ")
    .slice(0, 24_000)
    .trimEnd();

  it("a 24,000-character answer: 9 messages on the interaction, then the rest as a text file; nothing dropped", async () => {
    await start();
    const route = await ask("3000", "tok-long");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(route, long, "dc-long")))).status).toBe(200);
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(route, long, "dc-long")))).status).toBe(200);
    expect(discord.accepted.map((c) => c.kind)).toEqual(["edit-original", ...Array(9).fill("follow-up")]);
    const file = discord.accepted.at(-1)!;
    expect(file.files).toEqual([{ filename: "answer-run-dc.txt", content: expect.any(String) }]);
    expect(String(file.body.content)).toMatch(/^The answer continues in this file \([\d,]+ more characters\)\.$/);
    const messages = discord.accepted.slice(0, -1).map((c) => String(c.body.content));
    for (const message of messages) expect(message.length).toBeLessThanOrEqual(2000);
    expect(`${messages.join(" ")} ${file.files![0]!.content}`).toBe(long);
  });

  it("once the interaction's token expired, an answer replies to the message that answered the command; its file too is posted once", async () => {
    await start();
    const route = await ask("3001", "tok-old");
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(route, "first answer", "dc-a")))).status).toBe(200);
    const [original] = discord.calls("edit-original");
    // The same conversation 20 minutes on: the token is past its 15 minutes.
    const later = { ...route, meta: { ...route.meta!, interactionAt: String(Date.now() - 20 * 60_000) } };
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(later, long, "dc-b")))).status).toBe(200);
    const posts = discord.calls("channel-message");
    expect(posts).toHaveLength(10);
    expect(posts[0]!.body.message_reference).toEqual({ message_id: original!.id, fail_if_not_exists: false });
    expect(posts.slice(1).every((p) => p.body.message_reference === undefined)).toBe(true);
    expect(posts.at(-1)!.files).toHaveLength(1);
    expect(posts.at(-1)!.body).toMatchObject({ enforce_nonce: true });
    // A redelivery posts nothing again.
    expect((await fetch(deliveryRequest(`${adapter!.url}/`, answer(later, long, "dc-b")))).status).toBe(200);
    expect(discord.calls("channel-message")).toHaveLength(10);
  });

  it("group policy: `disabled` answers slash commands in DMs only; an allowlist only in its guild channels", async () => {
    await start({ defaultInstance: "ops", access: "open", groups: { policy: "disabled" } });
    const refused = await interact(
      slashCommand({ id: "3002", user: USER, channel: CHANNEL, guild: GUILD, name: "ask", text: "q" }),
    );
    expect(await refused.json()).toMatchObject({ type: 4, data: { flags: 64 } });
    const direct = await interact(
      slashCommand({ id: "3003", user: USER, channel: "900000000000000009", name: "ask", text: "dm" }),
    );
    expect(await direct.json()).toEqual({ type: 5 });
    await adapter!.stop();
    await start({ defaultInstance: "ops", access: "open", groups: { policy: "allowlist", groups: { [CHANNEL]: {} } } });
    const listed = await interact(
      slashCommand({ id: "3004", user: USER, channel: CHANNEL, guild: GUILD, name: "ask", text: "ok" }),
    );
    expect(await listed.json()).toEqual({ type: 5 });
    const other = await interact(
      slashCommand({ id: "3005", user: USER, channel: "900000000000000008", guild: GUILD, name: "ask", text: "no" }),
    );
    expect(await other.json()).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(broker.ofType(T.MESSAGE_RECEIVED).map((e) => readEvent(e, T.MESSAGE_RECEIVED).text)).toEqual(["dm", "ok"]);
  });
});
