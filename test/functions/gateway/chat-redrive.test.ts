/**
 * No chat message is stranded (functions/gateway/chat-redrive.ts): the gateway keeps every message.received and arms
 * a timer; when it fires while the agent's run for the message has not ended, the message goes out again exactly as
 * its channel signed it, and the timer is armed twice as late; a run that has ended, or its outcome, ends it.
 *
 * As in reconcile.test.ts, the memory service here fires no timers: the test reads the armed timer and delivers its
 * timer.fired to the gateway, as the memory service would at the due time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import { messageRunId } from "../../../eventing/catalog/message-run.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { CHAT_TIMER } from "../../../functions/gateway/chat-redrive.ts";
import { eventKeysEnv, signedRightly } from "../../support/event-keys.ts";
import { completed, fireTimer, type GatewayHarness, startGateway } from "./support/harness.ts";

let h: GatewayHarness;
const clock = Date.parse("2026-12-07T10:00:00Z");

beforeAll(async () => {
  h = await startGateway(
    {
      KNCLAW_GATEWAY_REDRIVE_AFTER_SECONDS: "30",
      // The whole trust bundle, as rendered: the channels' keys too (the gateway takes their message.received).
      ...eventKeysEnv("gateway", ["agent/ops", "memory", "channel/slack"]),
    },
    { now: () => clock },
  );
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  h.broker.events.length = 0;
  h.broker.failures.length = 0;
});

/** A chat message as the Slack adapter emits it (signed as channel/slack). */
function message(messageId: string, extra: Record<string, unknown> = {}): CloudEvent {
  return signedRightly(
    makeEvent(T.MESSAGE_RECEIVED, {
      source: "/knclaw/channels/slack",
      id: `msg-${messageId}`,
      data: {
        instance: "ops",
        channel: "slack",
        messageId,
        conversation: "C1",
        sender: { channel: "slack", id: "U1", workspace: "T1" },
        text: "how are the disks?",
        replyTo: { channel: "slack", conversation: "C1", workspace: "T1" },
        receivedAt: new Date(clock).toISOString(),
        ...extra,
      },
    }),
  );
}

const runOf = (messageId: string) =>
  messageRunId({
    instance: "ops",
    channel: "slack",
    messageId,
    conversation: "C1",
    sender: { channel: "slack", id: "U1", workspace: "T1" },
  });
const timerOf = (runId: string) =>
  h.operator.getTimer({ instance: "ops", target: "gateway", kind: CHAT_TIMER, id: runId });

/** Deliver the run's timer as the memory service fires it. */
const fire = (runId: string) => fireTimer(h, { instance: "ops", target: "gateway", kind: CHAT_TIMER, id: runId });

const resent = () => h.broker.ofType(T.MESSAGE_RECEIVED);

describe("chat re-drives", () => {
  it("sends a message whose run never started again, as its channel signed it, then looks twice as late", async () => {
    const original = message("1700000001.000100");
    expect((await h.deliver(original)).status).toBe(200);
    const runId = runOf("1700000001.000100");
    expect(await timerOf(runId)).toMatchObject({ dueAt: clock + 30_000, data: { attempt: 0 } });
    expect(await fire(runId)).toBe(200);
    const [again] = resent();
    expect(again!.attributes).toEqual(original.attributes);
    expect(Buffer.from(again!.data!).toString()).toBe(Buffer.from(original.data!).toString());
    expect(await timerOf(runId)).toMatchObject({ dueAt: clock + 60_000, data: { attempt: 1 } });
  });

  it("keeps sending it while the run has not ended, and stops once it has", async () => {
    expect((await h.deliver(message("1700000002.000100"))).status).toBe(200);
    const runId = runOf("1700000002.000100");
    await h.operator.createRun("ops", { id: runId, status: "waiting", state: {} });
    expect(await fire(runId)).toBe(200);
    expect(resent()).toHaveLength(1);
    await h.operator.updateRun("ops", runId, { expectedVersion: 1, status: "completed" });
    expect(await fire(runId)).toBe(200);
    expect(resent()).toHaveLength(1);
    expect(await timerOf(runId)).toBeUndefined();
  });

  it("the run's outcome ends the re-drive; a chat command is not kept", async () => {
    expect((await h.deliver(message("1700000003.000100"))).status).toBe(200);
    const runId = runOf("1700000003.000100");
    expect(await timerOf(runId)).toBeDefined();
    expect((await h.deliver(completed(runId, "ops", "all fine"))).status).toBe(200);
    expect(await timerOf(runId)).toBeUndefined();

    expect((await h.deliver(message("1700000004.000100", { text: "/status", command: "status" }))).status).toBe(200);
    expect(await timerOf(runOf("1700000004.000100"))).toBeUndefined();
  });
});
