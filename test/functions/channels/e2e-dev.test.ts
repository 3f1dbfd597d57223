import { createHmac } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { encodeBinary } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { defineSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import { generateSigningKey, parsePrivateKey, serveSkill } from "../../../skills/runtime/index.ts";
import { chatChannelsConfig } from "../../fakes/chat-channels.ts";
import { buttonPress, FakeDiscord, slashCommand } from "../../fakes/discord/server.ts";
import { FakeSlack, slackBlockActionsBody, slackMessageEvent, slackRequest } from "../../fakes/slack/server.ts";
import {
  FakeTelegram,
  telegramCallbackUpdate,
  telegramRequest,
  telegramTextUpdate,
} from "../../fakes/telegram/server.ts";
import {
  FakeWhatsApp,
  metaJson,
  textMessage,
  whatsappNotification,
  whatsappRequest,
} from "../../fakes/whatsapp/server.ts";
import { type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { devTrustEnv, roleKeys } from "../../support/event-keys.ts";

/**
 * Every adapter and the gateway on `knclaw dev`, from a rendered knclaw.yaml: a platform's webhook goes in on the dev
 * port, the agent (demo model) answers by Trigger, and the answer arrives at a local fake of the platform's API. The
 * approval round trips go through a tool that needs approval (an external skill served by the skill runtime).
 */
const SLACK_SECRET = "slack-signing-secret-e2e";
const TELEGRAM_SECRET = "telegram-webhook-secret-e2e";
const WHATSAPP_SECRET = "whatsapp-app-secret-e2e";
const HOOK_SECRET = "webhook-secret-e2e";
const GATEWAY_TOKEN = "gateway-token-for-e2e-tests-0123";
const OTHER_GATEWAY_TOKEN = "gateway-token-of-someone-else-0456";
const keys = generateSigningKey();

let dev: DevRuntime;
let slack: FakeSlack;
let telegram: FakeTelegram;
let discord: FakeDiscord;
let whatsapp: FakeWhatsApp;
let skill: Served;
let toolCalls = 0;
let approvalWatcher: Subscriber;

function objects(): KnativeObject[] {
  const chat = chatChannelsConfig({ slack, telegram, discord, whatsapp });
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 5, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    gateway: {
      tokens: { e2e: { secret: "gateway", key: "e2e" }, other: { secret: "gateway", key: "other" } },
      maxWaitSeconds: 60,
    },
    policies: { default: { approvals: { tools: ["cluster.*"] }, termination: { maxTurns: 5 } } },
    skills: {
      cluster: {
        external: {
          url: skill.url,
          tools: [
            {
              name: "get_pods",
              description: "List pods",
              parameters: { type: "object", properties: { namespace: { type: "string" } } },
            },
          ],
        },
      },
    },
    instances: { ops: { model: "demo/demo", policy: "default", skills: ["cluster"] } },
    channels: {
      ...chat,
      slack: { ...chat.slack, access: "pairing", allow: ["U-ADA", "U-BOB"] },
      webhook: {
        secrets: { signingSecret: { secret: "hooks", key: "signing" } },
        hooks: {
          alerts: {
            instance: "ops",
            task: "Summarise the alert {{alert}}",
            replyTo: { channel: "slack", conversation: "C-ALERTS" },
          },
        },
      },
    },
  });
  // What an attacker on the cluster network sees of approvals: every approval.requested, ids included.
  const watcher: KnativeObject = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "test-approval-watcher", namespace: "knclaw" },
    spec: {
      broker: config.broker.name,
      filter: { attributes: { type: T.APPROVAL_REQUESTED } },
      subscriber: { uri: approvalWatcher.url },
    },
  };
  return [...(render(config) as unknown as KnativeObject[]), watcher];
}

beforeAll(async () => {
  approvalWatcher = await startSubscriber();
  slack = await new FakeSlack().start();
  telegram = await new FakeTelegram().start();
  discord = await new FakeDiscord().start();
  whatsapp = await new FakeWhatsApp().start();
  skill = await serve(
    serveSkill(
      defineSkill({
        name: "cluster",
        manifest: {},
        tools: [
          defineTool({
            name: "get_pods",
            description: "List pods",
            input: z.object({ namespace: z.string().optional() }),
            mutates: false,
            approval: false,
          }),
        ],
        handlers: {
          get_pods: async () => {
            toolCalls += 1;
            return { pods: ["web-1", "web-2"] };
          },
        },
      }),
      {
        env: {
          KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
          KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/cluster").privateKeyPem,
          NODE_ENV: "test",
        },
      },
    ),
    { port: 0, host: "127.0.0.1" },
  );
  dev = await startDev({
    objects: objects(),
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    env: {
      KNCLAW_AGENT_KEYS_OPS: keys.privateKeyPem,
      // The external skill's key: knclaw dev trusts its answers, the skill server signs with it.
      ...devTrustEnv({ externalSkills: ["cluster"] }),
      SLACK_SIGNING: SLACK_SECRET,
      SLACK_BOT: slack.token,
      TELEGRAM_BOT: telegram.token,
      TELEGRAM_HOOK: TELEGRAM_SECRET,
      DISCORD_BOT: discord.botToken,
      WHATSAPP_APP: WHATSAPP_SECRET,
      WHATSAPP_ACCESS: whatsapp.accessToken,
      WHATSAPP_VERIFY: "verify-token-e2e",
      HOOKS_SIGNING: HOOK_SECRET,
      GATEWAY_E2E: GATEWAY_TOKEN,
      GATEWAY_OTHER: OTHER_GATEWAY_TOKEN,
    },
  });
}, 120_000);

afterAll(async () => {
  await dev?.shutdown();
  await Promise.all([
    slack.stop(),
    telegram.stop(),
    discord.stop(),
    whatsapp.stop(),
    skill.shutdown(),
    approvalWatcher.close(),
  ]);
});

const DEMO = "[demo model";

describe("round trips on knclaw dev", () => {
  it("Slack: a channel message is answered in its thread", async () => {
    const body = slackMessageEvent({ channel: "C-OPS", user: "U-ADA", text: "hello agent", ts: "1700000100.000100" });
    expect((await fetch(slackRequest(`${dev.url}/channels/slack/events`, SLACK_SECRET, body))).status).toBe(200);
    const answer = await slack.waitUntil(
      (p) => p.method === "chat.postMessage" && p.channel === "C-OPS" && p.text.includes("hello agent"),
    );
    expect(answer.thread_ts).toBe("1700000100.000100");
    expect(answer.text).toContain(DEMO);
  });

  it("Slack: an unknown sender gets a pairing code and starts no run", async () => {
    await dev.idle();
    const before = dev.counters.accepted;
    const body = slackMessageEvent({
      channel: "C-OPS",
      user: "U-STRANGER",
      text: "let me in",
      ts: "1700000101.000100",
    });
    expect((await fetch(slackRequest(`${dev.url}/channels/slack/events`, SLACK_SECRET, body))).status).toBe(200);
    const pairing = await slack.waitUntil((p) => p.method === "chat.postEphemeral" && p.user === "U-STRANGER");
    expect(pairing.text).toMatch(/pairing code is [A-HJ-NP-Z2-9]{8}/);
    await dev.idle();
    expect(dev.counters.accepted).toBe(before);
    expect(slack.accepted.some((p) => p.method === "chat.postMessage" && p.text.includes("let me in"))).toBe(false);
  });

  it("Slack: a non-approver's press is turned away ephemerally; the requester's releases the call once", async () => {
    const calls = toolCalls;
    const body = slackMessageEvent({
      channel: "C-OPS",
      user: "U-ADA",
      text: "please run get_pods",
      ts: "1700000102.000100",
    });
    expect((await fetch(slackRequest(`${dev.url}/channels/slack/events`, SLACK_SECRET, body))).status).toBe(200);
    const prompt = await slack.waitUntil(
      (p) => p.method === "chat.postMessage" && p.blocks !== undefined && p.thread_ts === "1700000102.000100",
    );
    expect(prompt.text).toContain("cluster.get_pods");
    expect(toolCalls).toBe(calls);
    const approve = (
      prompt.blocks as Array<{ type: string; elements?: Array<{ value: string; text: { text: string } }> }>
    )
      .find((b) => b.type === "actions")!
      .elements!.find((e) => e.text.text === "Approve")!.value;
    const press = (user: string, triggerId: string) =>
      fetch(
        slackRequest(
          `${dev.url}/channels/slack/interactive`,
          SLACK_SECRET,
          slackBlockActionsBody({
            user,
            channel: "C-OPS",
            messageTs: prompt.ts,
            threadTs: "1700000102.000100",
            value: approve,
            triggerId,
          }),
          { contentType: "application/x-www-form-urlencoded" },
        ),
      );
    // Bob may talk to the agent but did not start this run: he is told, privately, and the call stays held.
    expect((await press("U-BOB", "e2e-bob")).status).toBe(200);
    const turnedAway = await slack.waitUntil((p) => p.method === "chat.postEphemeral" && p.user === "U-BOB");
    expect(turnedAway.text).toBe("You may not approve this.");
    await dev.idle();
    expect(toolCalls).toBe(calls);
    expect(slack.accepted.some((p) => p.method === "chat.update" && p.ts === prompt.ts)).toBe(false);
    expect((await press("U-ADA", "e2e-1")).status).toBe(200);
    const answer = await slack.waitUntil(
      (p) => p.method === "chat.postMessage" && p.thread_ts === "1700000102.000100" && p.text.includes("web-1"),
    );
    expect(answer.text).toContain(DEMO);
    const updated = await slack.waitUntil((p) => p.method === "chat.update" && p.ts === prompt.ts);
    expect(updated.text).toContain("Approved by <@U-ADA>");
    expect(updated.blocks).toEqual([]);
    await dev.idle();
    expect(toolCalls).toBe(calls + 1);
  });

  it("Telegram: a message in a forum topic is answered in that topic", async () => {
    const update = telegramTextUpdate({
      updateId: 500,
      chatId: "-1001234567890123",
      fromId: "5123456789012",
      text: "hi from telegram",
      threadId: 9,
    });
    expect((await fetch(telegramRequest(`${dev.url}/channels/telegram/webhook`, TELEGRAM_SECRET, update))).status).toBe(
      200,
    );
    const answer = await telegram.waitUntil(
      (c) => c.method === "sendMessage" && String(c.body.text).includes("hi from telegram"),
    );
    expect(answer.body).toMatchObject({ chat_id: "-1001234567890123", message_thread_id: 9 });
  });

  it("Telegram: a non-approver's press gets an alert; the requester's releases the call once", async () => {
    const calls = toolCalls;
    const chat = "-1007770001112223";
    const ada = "777000111222";
    const update = telegramTextUpdate({
      updateId: 501,
      chatId: chat,
      fromId: ada,
      // In a group the bot answers only when addressed: here by its @username.
      text: "@knclaw_test_bot run get_pods now",
      chatType: "group",
      entities: [{ type: "mention", offset: 0, length: 16 }],
    });
    expect((await fetch(telegramRequest(`${dev.url}/channels/telegram/webhook`, TELEGRAM_SECRET, update))).status).toBe(
      200,
    );
    const prompt = await telegram.waitUntil(
      (c) => c.method === "sendMessage" && c.body.chat_id === chat && c.body.reply_markup !== undefined,
    );
    const keyboard = (
      prompt.body.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }
    ).inline_keyboard;
    const approve = keyboard.flat().find((b) => b.text === "Approve")!.callback_data;
    const press = (updateId: number, queryId: string, fromId: string) =>
      fetch(
        telegramRequest(
          `${dev.url}/channels/telegram/webhook`,
          TELEGRAM_SECRET,
          telegramCallbackUpdate({
            updateId,
            queryId,
            chatId: chat,
            fromId,
            messageId: prompt.message_id!,
            data: approve,
          }),
        ),
      );
    expect((await press(502, "cbq-stranger", "888000111222")).status).toBe(200);
    const alert = await telegram.waitUntil(
      (c) => c.method === "answerCallbackQuery" && c.body.callback_query_id === "cbq-stranger",
    );
    expect(alert.body).toMatchObject({ text: "You may not approve this.", show_alert: true });
    await dev.idle();
    expect(toolCalls).toBe(calls);
    expect((await press(503, "cbq-e2e", ada)).status).toBe(200);
    await telegram.waitUntil(
      (c) => c.method === "sendMessage" && c.body.chat_id === chat && String(c.body.text).includes("web-1"),
    );
    expect(
      telegram.accepted.find((c) => c.method === "answerCallbackQuery" && c.body.callback_query_id === "cbq-e2e")!.body,
    ).toMatchObject({ text: "Received" });
    const edited = await telegram.waitUntil(
      (c) => c.method === "editMessageText" && c.body.message_id === prompt.message_id,
    );
    expect(edited.body).toMatchObject({ chat_id: chat, reply_markup: { inline_keyboard: [] } });
    expect(String(edited.body.text)).toContain("Approved by Op");
    await dev.idle();
    expect(toolCalls).toBe(calls + 1);
  });

  it("Discord: a slash command's deferred response is replaced by the answer", async () => {
    const interaction = slashCommand({
      id: "990000000000000001",
      user: "990000000000000002",
      channel: "990000000000000003",
      guild: "990000000000000004",
      name: "ask",
      text: "hi from discord",
      token: "e2e-interaction-token",
    });
    const response = await fetch(discord.interactionRequest(`${dev.url}/channels/discord/interactions`, interaction));
    expect(await response.json()).toEqual({ type: 5 });
    const answer = await discord.waitUntil((c) => c.kind === "edit-original" && c.token === "e2e-interaction-token");
    expect(String(answer.body.content)).toContain("hi from discord");
  });

  it("Discord: a non-approver's press is answered ephemerally; the requester's releases the call once", async () => {
    const calls = toolCalls;
    const user = "990000000000000012";
    const channel = "990000000000000013";
    const guild = "990000000000000014";
    const interaction = slashCommand({
      id: "990000000000000011",
      user,
      channel,
      guild,
      name: "ask",
      text: "run get_pods",
      token: "e2e-token-2",
    });
    expect(
      await (await fetch(discord.interactionRequest(`${dev.url}/channels/discord/interactions`, interaction))).json(),
    ).toEqual({ type: 5 });
    const prompt = await discord.waitUntil((c) => c.token === "e2e-token-2" && c.body.components !== undefined);
    const buttons = (prompt.body.components as Array<{ components: Array<{ label: string; custom_id: string }> }>)[0]!
      .components;
    const press = (id: string, presser: string, token: string) =>
      fetch(
        discord.interactionRequest(`${dev.url}/channels/discord/interactions`, {
          ...buttonPress({
            id,
            user: presser,
            channel,
            guild,
            customId: buttons.find((b) => b.label === "Approve")!.custom_id,
            messageId: prompt.id,
          }),
          token,
        }),
      ).then((response) => response.json());
    expect(await press("990000000000000016", "990000000000000017", "e2e-token-stranger")).toEqual({
      type: 4,
      data: { content: "You may not approve this.", flags: 64 },
    });
    await dev.idle();
    expect(toolCalls).toBe(calls);
    expect(await press("990000000000000015", user, "e2e-token-3")).toEqual({ type: 6 });
    await discord.waitUntil((c) => c.token === "e2e-token-2" && String(c.body.content).includes("web-1"));
    const edited = await discord.waitUntil((c) => c.kind === "edit-message" && c.id === prompt.id);
    expect(edited.body).toMatchObject({ components: [] });
    expect(String(edited.body.content)).toContain(`Approved by <@${user}>`);
    await dev.idle();
    expect(toolCalls).toBe(calls + 1);
  });

  it("WhatsApp: a message is answered from the business number", async () => {
    const payload = whatsappNotification("106540352242922", [
      textMessage("4915112345678", "wamid.E2E1", "hi from whatsapp"),
    ]);
    const raw = metaJson(payload);
    expect((await fetch(whatsappRequest(`${dev.url}/channels/whatsapp/webhook`, WHATSAPP_SECRET, raw))).status).toBe(
      200,
    );
    const answer = await whatsapp.waitUntil((s) => JSON.stringify(s.body).includes("hi from whatsapp"));
    expect(answer.phoneNumberId).toBe("106540352242922");
    expect(answer.body).toMatchObject({ to: "4915112345678", type: "text" });
  });

  it("Webhook: a signed alert starts a run whose answer goes to the hook's Slack channel", async () => {
    const body = JSON.stringify({ alert: "DiskFull on db-1" });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac("sha256", HOOK_SECRET).update(`${timestamp}.${body}`).digest("hex");
    const response = await fetch(`${dev.url}/channels/webhook/alerts`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-knclaw-timestamp": timestamp,
        "x-knclaw-signature": `sha256=${signature}`,
      },
      body,
    });
    expect(response.status).toBe(202);
    const answer = await slack.waitUntil((p) => p.method === "chat.postMessage" && p.channel === "C-ALERTS");
    expect(answer.text).toContain("DiskFull on db-1");
  });
});

describe("the gateway on knclaw dev", () => {
  it("approvals: another token gets 403 and the call stays held; the requester's approval runs it once; then 409", async () => {
    const calls = toolCalls;
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });
    const started = await fetch(`${dev.url}/api/v1/instances/ops/runs`, {
      method: "POST",
      headers: headers(GATEWAY_TOKEN),
      body: JSON.stringify({ task: "please run get_pods" }),
    });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    // The run's event stream announces the approval; the stream stays open until the run ends, so read until then.
    const stream = await fetch(`${dev.url}/api/v1/runs/${runId}/events`, { headers: headers(GATEWAY_TOKEN) });
    const reader = stream.body!.getReader();
    let seen = "";
    while (!/event: approval\n/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    const approvalId = /"approvalId":"([^"]+)"/.exec(seen)![1]!;
    const decide = (token: string, decision: string) =>
      fetch(`${dev.url}/api/v1/approvals/${approvalId}`, {
        method: "POST",
        headers: headers(token),
        body: JSON.stringify({ decision }),
      });
    expect((await decide(OTHER_GATEWAY_TOKEN, "approve")).status).toBe(403);
    await dev.idle();
    expect(toolCalls).toBe(calls);
    expect((await decide(GATEWAY_TOKEN, "approve")).status).toBe(202);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toContain("event: approval_resolved");
    expect(seen).toContain("event: completed");
    expect(toolCalls).toBe(calls + 1);
    const late = await decide(GATEWAY_TOKEN, "deny");
    expect(late.status).toBe(409);
    expect(toolCalls).toBe(calls + 1);
  });

  it("anyone who can reach the broker can approve a gated tool (the issue's attack): a forged approval.decided as the requester releases nothing", async () => {
    const calls = toolCalls;
    const headers = { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" };
    const started = await fetch(`${dev.url}/api/v1/instances/ops/runs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ task: "please run get_pods" }),
    });
    const { runId } = (await started.json()) as { runId: string };
    const requested = await approvalWatcher.waitUntil(
      (r) => JSON.parse(r.body.toString()).runId === runId && r.headers["ce-type"] === T.APPROVAL_REQUESTED,
    );
    const approval = JSON.parse(requested.body.toString()) as Record<string, string>;
    // Everything the attack needs: the ids and digest seen on the wire, and the requester's identity (a token's name).
    const decision = (id: string) =>
      makeEvent(T.APPROVAL_DECIDED, {
        id,
        source: "/knclaw/gateway",
        data: {
          approvalId: approval.approvalId!,
          runId,
          callId: approval.callId!,
          instance: "ops",
          digest: approval.digest!,
          decision: "approve",
          decidedBy: { channel: "http", id: "e2e" },
        },
      });
    const forgedKey = generateSigningKey();
    const forgeries = [
      decision("forged-unsigned"),
      // Signed, as the gateway, with a key the platform never trusted.
      eventSigner("gateway", parsePrivateKey(forgedKey.privateKeyPem)).sign(decision("forged-signed")),
    ];
    for (const forged of forgeries) {
      const { headers: ce, body } = encodeBinary(forged);
      const posted = await fetch(dev.brokers[0]!.url, {
        method: "POST",
        headers: ce,
        body: body as Uint8Array<ArrayBuffer>,
      });
      expect(posted.status).toBe(202);
    }
    await dev.idle();
    expect(toolCalls).toBe(calls);
    // The call is still held for the requester, whose own approval runs the tool once.
    const decided = await fetch(`${dev.url}/api/v1/approvals/${approval.approvalId}`, {
      method: "POST",
      headers,
      body: JSON.stringify({ decision: "approve" }),
    });
    expect(decided.status).toBe(202);
    await dev.idle();
    const outcome = await fetch(`${dev.url}/api/v1/runs/${runId}`, { headers });
    expect(((await outcome.json()) as { status: string }).status).toBe("completed");
    expect(toolCalls).toBe(calls + 1);
  });

  it("serves the official openai SDK, streaming and not", async () => {
    const client = new OpenAI({ baseURL: `${dev.url}/v1`, apiKey: GATEWAY_TOKEN, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "knclaw:ops",
      messages: [{ role: "user", content: "ping over http" }],
    });
    expect(completion.choices[0]!.message.content).toContain("ping over http");
    const stream = await client.chat.completions.create({
      model: "knclaw:ops",
      messages: [{ role: "user", content: "stream me" }],
      stream: true,
    });
    let content = "";
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
    expect(content).toContain("stream me");
  });

  it("answers inline with Prefer: wait, and async runs stream their events, resumable with Last-Event-ID", async () => {
    const headers = { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/json" };
    const sync = await fetch(`${dev.url}/api/v1/instances/ops/runs`, {
      method: "POST",
      headers: { ...headers, prefer: "wait=60" },
      body: JSON.stringify({ task: "sync task" }),
    });
    expect(sync.status).toBe(200);
    expect(((await sync.json()) as { status: string; output: string }).output).toContain("sync task");
    const started = await fetch(`${dev.url}/api/v1/instances/ops/runs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ task: "async task" }),
    });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    const all = await (await fetch(`${dev.url}/api/v1/runs/${runId}/events`, { headers })).text();
    const ids = [...all.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
    expect(all).toContain("event: completed");
    expect(ids.length).toBeGreaterThanOrEqual(1);
    const resumed = await (
      await fetch(`${dev.url}/api/v1/runs/${runId}/events`, { headers: { ...headers, "last-event-id": ids[0]! } })
    ).text();
    const resumedIds = [...resumed.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
    expect(resumedIds).toEqual(ids.slice(1));
    const run = (await (await fetch(`${dev.url}/api/v1/runs/${runId}`, { headers })).json()) as { status: string };
    expect(run.status).toBe("completed");
  });
});
