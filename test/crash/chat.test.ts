/**
 * The crash suite for chat answers: a real `knclaw dev` answering on a Slack channel (the Slack fake lives in this
 * process, so it outlives the kill) is killed right after Slack accepted an answer and before the adapter recorded it
 * (KNCLAW_CRASH_POINT=channel.after-post, runtime/crash-point.ts). After the restart the broker redelivers the
 * message.send; the adapter finds the part in doubt, finds it on Slack by its metadata, and posts nothing more: each
 * answer is on Slack once. Embedded memory store and SQLite journal in the state directory (`npm start`'s default).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeSlack, slackMessageEvent, slackRequest } from "../fakes/slack/server.ts";
import { waitForOutput } from "../support/cli-process.ts";
import { CrashPlatform } from "./support/platform.ts";

const SECRET = "crash-suite-slack-signing-secret";

let slack: FakeSlack;
let p: CrashPlatform;

afterEach(async () => {
  await p?.close();
  await slack?.stop();
});

/**
 * A person's direct message to the bot (always for it, answered at the top level, where conversations.history finds
 * it), delivered to the adapter as Slack's Events API does. Each person has a session of their own.
 */
async function say(user: string, text: string): Promise<void> {
  const ts = slack.seedMessage(`D-${user}`, text);
  const body = slackMessageEvent({ channel: `D-${user}`, user, text, ts, channel_type: "im" });
  const answer = await fetch(slackRequest(`${p.dev!.url}/channels/slack/events`, SECRET, body));
  expect(answer.status).toBe(200);
}

const answers = (text: string) => slack.posts().filter((post) => post.text === text);

describe("kill -9 of knclaw dev between a chat post and its record", () => {
  it("the redelivered answer is found on Slack by its metadata and not posted again", {
    timeout: 180_000,
  }, async () => {
    slack = await new FakeSlack().start();
    p = await CrashPlatform.start({
      slack: { apiBaseUrl: slack.apiBaseUrl, token: slack.token, signingSecret: SECRET },
    });
    const dev = await p.startDev("channel.after-post@1");
    await say("U-ADA", "job chat-1");
    expect((await dev.ended).signal).toBe("SIGKILL");
    // Slack has the answer; the adapter died before recording it.
    expect(answers("done job chat-1")).toHaveLength(1);

    await p.startDev();
    // The redelivery asks Slack about the part in doubt.
    await slack.waitUntilRequest((request) => request.path.endsWith("/conversations.history"));
    // A second conversation, answered after the restart: the first redelivery's handling is over by then.
    await say("U-BOB", "job chat-2");
    await slack.waitUntil((post) => post.text === "done job chat-2");
    expect(answers("done job chat-1")).toHaveLength(1);
    expect(answers("done job chat-2")).toHaveLength(1);
    // The tool ran once per conversation, the crash notwithstanding.
    expect([...p.skill.executions.values()]).toEqual([1, 1]);
  });
});

describe("a chat message dead-lettered while its agent could not take it", () => {
  it("is re-driven by the gateway until its run ends, and answered once", { timeout: 180_000 }, async () => {
    slack = await new FakeSlack().start();
    p = await CrashPlatform.start({
      slack: { apiBaseUrl: slack.apiBaseUrl, token: slack.token, signingSecret: SECRET },
      redriveAfterSeconds: 2,
    });
    const dev = await p.startDev();
    // Every step is deferred (the model is down) until the broker gives up on the delivery.
    p.modelDown = true;
    const deadLettered = waitForOutput(
      dev.child,
      /"msg":"delivery failed, event (sent to the dead-letter sink|dropped)"/,
      "stderr",
    );
    await say("U-CAROL", "job chat-redrive");
    await deadLettered;
    p.modelDown = false;
    // No operator replays it: the gateway's chat timer sends the message again and the agent runs it.
    await slack.waitUntil((post) => post.text === "done job chat-redrive");
    // Its run ended: later re-drives (their timers were armed before) find it so and send nothing more.
    await say("U-DAN", "job chat-after");
    await slack.waitUntil((post) => post.text === "done job chat-after");
    expect(answers("done job chat-redrive")).toHaveLength(1);
    expect([...p.skill.executions.values()]).toEqual([1, 1]);
  });
});
