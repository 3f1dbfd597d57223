import { describe, expect, it } from "vitest";
import { AgentSettings } from "../../../functions/agent/env.ts";
import { compactIfNeeded, compactionChunk } from "../../../functions/agent/loop/compaction.ts";
import {
  blobsShown,
  ContextOverflow,
  contextTokens,
  fitTranscript,
  renderTranscript,
} from "../../../functions/agent/loop/context-fit.ts";
import type { LanguageModel, ModelRequest } from "../../../functions/agent/providers/model.ts";
import type { TranscriptMessage } from "../../../functions/agent/run/state.ts";
import type { AgentStore, SessionView } from "../../../functions/agent/store.ts";
import { createLogger } from "../../../runtime/log.ts";

const result = (id: string, content: string): TranscriptMessage => ({
  role: "tool",
  callId: id,
  name: "http__fetch",
  content,
  isError: false,
});
const call = (id: string): TranscriptMessage => ({
  role: "assistant",
  content: "",
  toolCalls: [{ id, name: "http__fetch", arguments: "{}" }],
});

/** A run that called one tool per turn, each answering `bytes` bytes. */
function transcript(turns: number, bytes: number): TranscriptMessage[] {
  const out: TranscriptMessage[] = [{ role: "user", content: "look at these" }];
  for (let i = 0; i < turns; i++) out.push(call(`c${i}`), result(`c${i}`, String(i).repeat(bytes)));
  return out;
}

const total = (messages: ReadonlyArray<{ content: string }>) =>
  messages.reduce((sum, m) => sum + 4 + contextTokens(m.content), 0);

describe("fitting the run's own turns into the context", () => {
  it("keeps everything when it fits", () => {
    const messages = transcript(3, 300);
    const fitted = fitTranscript(messages, 10_000);
    expect(fitted.shown.every((how) => how === "full")).toBe(true);
    expect(renderTranscript(messages, fitted, new Map())).toEqual(messages);
  });

  it("elides older tool results first, oldest first, and keeps the latest whole", () => {
    const messages = transcript(5, 9_000);
    const fitted = fitTranscript(messages, 8_000);
    const rendered = renderTranscript(messages, fitted, new Map());
    const results = rendered.filter((m) => m.role === "tool");
    expect(results.at(-1)!.content).toBe("4".repeat(9_000));
    // Oldest first, and only as many as needed: the one before the latest still fits whole.
    expect(results.slice(0, 3).every((m) => m.content.includes('"elided"'))).toBe(true);
    expect(results[3]!.content).toBe("3".repeat(9_000));
    expect(total(rendered)).toBeLessThanOrEqual(8_000 + 5 * 20);
    expect(fitted.tokens).toBeLessThanOrEqual(8_000);
  });

  it("cuts the latest results to a share of what is left, and fails when even that cannot fit", () => {
    const messages = transcript(2, 60_000);
    const fitted = fitTranscript(messages, 6_000);
    const latest = renderTranscript(messages, fitted, new Map()).at(-1)!;
    expect(latest.content).toMatch(/^1+\n\[cut: the first \d+ of 60000 bytes are shown/);
    expect(fitted.tokens).toBeLessThanOrEqual(6_000);
    expect(() => fitTranscript([{ role: "user", content: "x".repeat(30_000) }], 6_000)).toThrow(ContextOverflow);
  });

  it("shows a blob's content only where the message is kept, and its preview where the blob is gone", () => {
    const messages = transcript(2, 10);
    messages[4] = { ...messages[4]!, content: "preview", blob: { sha256: "b".repeat(64), bytes: 3_000 } };
    messages[2] = { ...messages[2]!, content: "older preview", blob: { sha256: "a".repeat(64), bytes: 30_000 } };
    const fitted = fitTranscript(messages, 3_000);
    expect(blobsShown(messages, fitted)).toEqual([{ sha256: "b".repeat(64), bytes: 3_000 }]);
    const shown = renderTranscript(messages, fitted, new Map([["b".repeat(64), "whole result"]]));
    expect(shown[4]!.content).toBe("whole result");
    expect(shown[2]!.content).toContain("older preview");
    expect("blob" in shown[4]!).toBe(false);
    const gone = renderTranscript(messages, fitted, new Map());
    expect(gone[4]!.content).toContain('"elided"');
  });
});

describe("compaction", () => {
  const settings = AgentSettings.parse({ contextTokens: 4096, maxOutputTokens: 1024 });
  const window = (count: number, bytes: number): SessionView => ({
    summary: "what came before",
    truncated: true,
    messages: Array.from({ length: count }, (_, i) => ({
      id: `m${i}`,
      role: i % 2 === 0 ? ("user" as const) : ("assistant" as const),
      content: `${i}:${"w".repeat(bytes)}`,
    })),
  });

  it("summarises the oldest messages that fit one request within the context, the rest stays", () => {
    const { request, throughId } = compactionChunk(settings, window(200, 600));
    const tokens = contextTokens(request.system) + total(request.messages) + request.maxOutputTokens!;
    expect(tokens).toBeLessThanOrEqual(4096);
    expect(throughId).not.toBe("m191");
    expect(request.messages[0]!.content).toContain("what came before");
    expect(request.messages[0]!.content).toContain("0:www");
  });

  it("backs off after a failure instead of trying after every run, and clears the backoff once it works", async () => {
    const values = new Map<string, string>();
    const compacted: string[] = [];
    const store = {
      getValue: async (key: string) => values.get(key),
      putValue: async (key: string, value: string) => void values.set(key, value),
      deleteValue: async (key: string) => void values.delete(key),
      compactSession: async (_key: string, throughId: string) => void compacted.push(throughId),
    } as unknown as AgentStore;
    let answer: () => Promise<string> = async () => {
      throw new Error("context length exceeded");
    };
    const requests: ModelRequest[] = [];
    const model = {
      generate: async (request: ModelRequest) => {
        requests.push(request);
        return {
          text: await answer(),
          toolCalls: [],
          finishReason: "stop",
          usage: { inputTokens: 1, outputTokens: 1 },
        };
      },
    } as unknown as LanguageModel;
    const log = createLogger({ KNCLAW_LOG_LEVEL: "silent" }, "test");
    let now = 1_000_000;
    const attempt = () =>
      compactIfNeeded({ store, model, settings, sessionKey: "s", history: window(40, 100), now, log });
    expect(await attempt()).toBe(false);
    expect(requests).toHaveLength(1);
    expect(await attempt()).toBe(false);
    expect(requests).toHaveLength(1);
    now += 61_000;
    expect(await attempt()).toBe(false);
    expect(requests).toHaveLength(2);
    now += 61_000;
    expect(await attempt()).toBe(false);
    expect(requests).toHaveLength(2);
    answer = async () => "summary";
    now += 120_000;
    expect(await attempt()).toBe(true);
    expect(compacted).toHaveLength(1);
    expect(values.size).toBe(0);
  });
});
