import { describe, expect, it } from "vitest";
import { readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { messageSendEvent } from "../../../functions/agent/run/outgoing.ts";
import type { RunState } from "../../../functions/agent/run/state.ts";

const state = {
  instance: "ops",
  runId: "run-long",
  replyTo: { channel: "telegram", conversation: "42" },
} as unknown as RunState;

describe("message.send of a long answer", () => {
  it("an answer within a message.send is sent whole", () => {
    const text = "x".repeat(60_000);
    const data = readEvent(messageSendEvent(state, "final", text, { now: 0, source: "/t" }), T.MESSAGE_SEND);
    expect(data.text).toBe(text);
  });

  it("past 65,536 characters the text is cut with a notice of how much and where the whole answer is", () => {
    const text = `${"a".repeat(65_000)}${"b".repeat(15_000)}`;
    const data = readEvent(messageSendEvent(state, "final", text, { now: 0, source: "/t" }), T.MESSAGE_SEND);
    expect(data.text.length).toBeLessThanOrEqual(64 * 1024);
    const match =
      /\n\n\[([\d,]+) more characters are not shown: a chat message holds 65,536\. The whole answer is run run-long in the operator console \(\/console\/runs\/run-long\)\.\]$/.exec(
        data.text,
      );
    expect(match).not.toBeNull();
    const shown = data.text.length - match![0].length;
    expect(text.startsWith(data.text.slice(0, shown))).toBe(true);
    expect(Number(match![1]!.replace(/,/g, ""))).toBe(text.length - shown);
  });
});
