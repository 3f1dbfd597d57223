import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { type CloudEvent, jsonBytes, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { createApp } from "../../../functions/channels/slack/app.ts";
import { generateSigningKey, parsePrivateKey } from "../../../runtime/keys.ts";
import { FakeSlack, slackMessageEvent, slackRequest } from "../../fakes/slack/server.ts";
import { signAs } from "../../support/event-keys.ts";
import { approvalRequest } from "./support/approvals.ts";
import { deliveryRequest, deliveryRequestAsIs } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

/**
 * Who may make a channel adapter post with the bot's token: only the agent of the instance the message is from,
 * signing as `agent/<instance>`. The first attack, "anyone can make the bot post" (an unauthenticated
 * message.send on the adapter's `POST /` was posted to Slack), and every other forgery are answered 403, and nothing
 * reaches the platform. Over real HTTP against the Slack adapter and the fake Slack Web API.
 */
let slack: FakeSlack;
let broker: RecordingBroker;
let adapter: RunningAdapter;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  broker = await new RecordingBroker().start();
  adapter = await runAdapter(createApp, {
    SIGNING_SECRET: "slack-signing-secret-for-tests",
    BOT_TOKEN: slack.token,
    SLACK_API_BASE_URL: slack.apiBaseUrl,
    K_SINK: broker.url,
    ...channelEnv({ defaultInstance: "ops", access: "open" }),
  });
});
afterAll(async () => {
  await adapter.stop();
  await broker.stop();
  await slack.stop();
});

const route = { channel: "slack" as const, conversation: "C42" };
let sequence = 0;
const send = (text: string, instance = "ops"): CloudEvent => {
  sequence += 1;
  return makeEvent(T.MESSAGE_SEND, {
    source: `/knclaw/agents/${instance}`,
    data: { instance, runId: "run-1", route, text, idempotencyKey: `trust-${sequence}` },
  });
};

async function refused(event: CloudEvent, reason: string): Promise<void> {
  const response = await fetch(deliveryRequestAsIs(`${adapter.url}/`, event));
  expect(response.status).toBe(403);
  expect(((await response.json()) as { error: { reason: string } }).error.reason).toBe(reason);
}

describe("what the bot posts: only what the instance's agent signed", () => {
  it("refuses an unsigned message.send (the issue's attack) and every forged one; nothing reaches Slack", async () => {
    const posts = slack.posts().length;
    await refused(send("unsigned: click this link"), "unsigned");
    const forger = eventSigner("agent/ops", parsePrivateKey(generateSigningKey().privateKeyPem));
    await refused(forger.sign(send("signed by a stranger")), "unknown_key");
    // The agent of another instance posting as this one; the gateway or an adapter posting at all.
    await refused(signAs("agent/dev", send("another instance")), "role_not_allowed");
    await refused(signAs("gateway", send("the gateway")), "unknown_key");
    // A genuine send changed after signing: its text, where it goes.
    const genuine = signAs("agent/ops", send("the real answer"));
    const data = readEvent(genuine, T.MESSAGE_SEND);
    await refused({ ...genuine, data: jsonBytes({ ...data, text: "forged" }) }, "bad_signature");
    await refused(
      { ...genuine, data: jsonBytes({ ...data, route: { ...route, conversation: "C-attacker" } }) },
      "bad_signature",
    );
    await refused(withAttributes(genuine, { knclawchannel: "telegram" }), "bad_signature");
    // Approval prompts the same.
    await refused(approvalRequest({ approvalId: "ap-forged", replyTo: route }), "unsigned");
    expect(slack.posts().length).toBe(posts);

    // The agent's own send is posted, once.
    expect((await fetch(deliveryRequest(`${adapter.url}/`, genuine))).status).toBe(200);
    expect(slack.posts().slice(posts)).toEqual([expect.objectContaining({ channel: "C42", text: "the real answer" })]);
  });

  it("signs what it emits as its channel: a message it hears goes out from `channel/slack`", async () => {
    broker.events.length = 0;
    const body = slackMessageEvent({ channel: "C42", user: "U1", text: "hello", ts: "1700000000.000100" });
    const response = await fetch(
      slackRequest(`${adapter.url}/channels/slack/events`, "slack-signing-secret-for-tests", body),
    );
    expect(response.status).toBe(200);
    expect(broker.events.map((event) => event.attributes.knclawproducer)).toEqual(["channel/slack"]);
  });
});
