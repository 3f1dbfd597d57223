import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { createApp } from "../../../functions/channels/slack/app.ts";
import { type FakeIssuer, startFakeIssuer } from "../../fakes/oidc/issuer.ts";
import { FakeSlack } from "../../fakes/slack/server.ts";
import { eventKeysEnv, signedRightly } from "../../support/event-keys.ts";
import { deliveryRequest } from "./support/events.ts";
import { channelEnv, type RunningAdapter, runAdapter } from "./support/harness.ts";

/**
 * Issue 11's first attack, "anyone can make the bot post", against a channel adapter served alone with its delivery
 * audience configured (as the renderer configures it with OIDC on): an unauthenticated `message.send` on `POST /`
 * used to be posted to Slack with the bot token. Now only a delivery carrying a token for the adapter's audience, from
 * the cluster's issuer, reaches the platform.
 */
const AUDIENCE = "serving.knative.dev/service/knclaw/channel-slack";
const BROKER = "system:serviceaccount:knclaw:default-oidc-eventing.knative.dev-trigger";

let slack: FakeSlack;
let issuer: FakeIssuer;
let adapter: RunningAdapter | undefined;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  issuer = await startFakeIssuer();
});
afterAll(async () => {
  await slack.stop();
  await issuer.close();
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
  slack.accepted.length = 0;
});

const route = { channel: "slack" as const, conversation: "C42", workspace: "T0001" };
/** A message.send signed by the agent, as the adapter's event check wants it: only the delivery token is at stake. */
const post = (text: string, key: string) =>
  signedRightly(
    makeEvent(T.MESSAGE_SEND, { source: "/agent", data: { instance: "ops", route, text, idempotencyKey: key } }),
  );

async function start(): Promise<string> {
  adapter = await runAdapter(createApp, {
    SIGNING_SECRET: "slack-signing-secret-for-tests",
    BOT_TOKEN: slack.token,
    SLACK_API_BASE_URL: slack.apiBaseUrl,
    // Inbound is not exercised here: nothing is sent to it.
    K_SINK: "http://127.0.0.1:9/knclaw/default",
    KNCLAW_DELIVERY_AUDIENCE: AUDIENCE,
    KNCLAW_OIDC_ISSUER: issuer.url,
    ...eventKeysEnv("channel/slack", ["agent/ops"]),
    ...channelEnv({ defaultInstance: "ops", access: "open" }),
  });
  return `${adapter.url}/`;
}

function withToken(request: Request, token: string): Request {
  const headers = new Headers(request.headers);
  headers.set("authorization", `Bearer ${token}`);
  return new Request(request, { headers });
}

describe("a channel adapter with a delivery audience", () => {
  it("does not post an unauthenticated message.send, nor one with a token for another audience or expired", async () => {
    const url = await start();
    const unauthenticated = await fetch(deliveryRequest(url, post("the bot says whatever I want", "a1")));
    expect(unauthenticated.status).toBe(401);
    const otherAudience = await issuer.token({
      audience: "serving.knative.dev/service/knclaw/gateway",
      subject: BROKER,
    });
    expect((await fetch(withToken(deliveryRequest(url, post("x", "a2")), otherAudience))).status).toBe(401);
    const expired = await issuer.token({ audience: AUDIENCE, subject: BROKER, expiresIn: -60 });
    expect((await fetch(withToken(deliveryRequest(url, post("x", "a3")), expired))).status).toBe(401);
    expect(slack.posts()).toEqual([]);
  });

  it("posts a message.send the broker delivered with a token for its audience", async () => {
    const url = await start();
    const token = await issuer.token({ audience: AUDIENCE, subject: BROKER });
    expect((await fetch(withToken(deliveryRequest(url, post("all green", "b1")), token))).status).toBe(200);
    expect(slack.posts()).toEqual([expect.objectContaining({ channel: "C42", text: "all green" })]);
  });

  it("keeps its platform webhooks on their own signatures: no delivery token asked there", async () => {
    const url = await start();
    const unsigned = await fetch(`${url}channels/slack/events`, { method: "POST", body: "{}" });
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers.get("www-authenticate")).toBeNull();
  });
});
