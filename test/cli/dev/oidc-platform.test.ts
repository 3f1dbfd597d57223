import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { encodeBinary } from "../../../eventing/cloudevent/http-codec.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { FakeSlack, slackMessageEvent, slackRequest } from "../../fakes/slack/server.ts";

/**
 * A rendered platform on `knclaw dev` with Knative's authentication-oidc emulated: a Slack message is answered through
 * the broker, every hop (adapter -> broker -> agent -> broker -> adapter) with tokens, none refused. Then issue 11's
 * first attack, "anyone can make the bot post": a `message.send` posted by someone on the dev port, straight to the
 * adapter's delivery route or into the broker, posts nothing.
 */
const SLACK_SECRET = "slack-signing-secret-oidc";
let dev: DevRuntime;
let slack: FakeSlack;

function objects(): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 3, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    policies: { default: { termination: { maxTurns: 3 } } },
    instances: { ops: { model: "demo/demo", policy: "default" } },
    channels: {
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        settings: { slackApiBaseUrl: slack.apiBaseUrl },
        defaultInstance: "ops",
        access: "open",
      },
    },
  });
  return render(config) as unknown as KnativeObject[];
}

beforeAll(async () => {
  slack = await new FakeSlack().start();
  dev = await startDev({
    objects: objects(),
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    env: { SLACK_SIGNING: SLACK_SECRET, SLACK_BOT: slack.token },
    oidc: {},
  });
}, 120_000);

afterAll(async () => {
  await dev?.shutdown();
  await slack?.stop();
});

describe("a rendered platform with delivery tokens", () => {
  it("answers a Slack message through the broker, every delivery and every send authenticated", async () => {
    const body = slackMessageEvent({ channel: "C-OPS", user: "U-ADA", text: "hello agent", ts: "1700000100.000100" });
    expect((await fetch(slackRequest(`${dev.url}/channels/slack/events`, SLACK_SECRET, body))).status).toBe(200);
    const answer = await slack.waitUntil((p) => p.method === "chat.postMessage" && p.text.includes("hello agent"));
    expect(answer.channel).toBe("C-OPS");
    await dev.idle();
    expect(dev.counters.rejected).toBe(0);
    expect(dev.counters.deadLettered + dev.counters.dropped).toBe(0);
  });

  it("posts nothing for a message.send from someone on the dev port, to the adapter or into the broker", async () => {
    await dev.idle();
    const posted = slack.posts().length;
    const forged = makeEvent(T.MESSAGE_SEND, {
      source: "/knclaw/agents/ops",
      data: {
        instance: "ops",
        route: { channel: "slack", conversation: "C-OPS" },
        text: "the bot says whatever I want",
        idempotencyKey: "forged-1",
      },
    });
    const { headers, body } = encodeBinary(forged);
    const send = (url: string, authorization?: string) =>
      fetch(url, {
        method: "POST",
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        body: body as Uint8Array<ArrayBuffer>,
      });
    const adapter = dev.functions.find((fn) => fn.name === "channel-slack")!;
    expect((await send(`${adapter.localUrl}/`)).status).toBe(401);
    const broker = dev.brokers[0]!;
    expect((await send(broker.url)).status).toBe(401);
    // A token for the adapter's audience is not one for the broker's, and vice versa.
    const adapterAudience = "serving.knative.dev/service/knclaw/channel-slack";
    const stolen = (await dev.oidc!.issuer.mint("system:serviceaccount:knclaw:channel-slack", adapterAudience)).token;
    expect((await send(broker.url, `Bearer ${stolen}`)).status).toBe(401);
    // Someone outside the platform's namespace, with a token the broker does accept as authentic.
    const outsider = (
      await dev.oidc!.issuer.mint(
        "system:serviceaccount:elsewhere:intruder",
        "eventing.knative.dev/broker/knclaw/default",
      )
    ).token;
    expect((await send(broker.url, `Bearer ${outsider}`)).status).toBe(403);
    await dev.idle();
    expect(slack.posts()).toHaveLength(posted);
  });
});
