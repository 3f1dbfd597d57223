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
import type { AgentStore, SessionPage, SessionView } from "../../../functions/agent/store.ts";
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
  const messagesOf = (count: number, bytes: number) =>
    Array.from({ length: count }, (_, i) => ({
      id: `m${i}`,
      role: i % 2 === 0 ? "user" : "assistant",
      content: `${i}:${"w".repeat(bytes)}`,
    }));
  const page = (count: number, bytes: number): SessionPage => ({
    generation: 0,
    summary: "what came before",
    total: count,
    messages: messagesOf(count, bytes),
  });
  const requestTokens = (request: ModelRequest) =>
    contextTokens(request.system) + total(request.messages) + request.maxOutputTokens!;

  it("summarises the oldest messages that fit one request within the context, folding the summary in", () => {
    const { request, throughId, count } = compactionChunk(settings, page(200, 600), 192);
    expect(requestTokens(request)).toBeLessThanOrEqual(4096);
    expect(count).toBeGreaterThan(1);
    expect(count).toBeLessThan(192);
    expect(throughId).toBe(`m${count - 1}`);
    expect(request.messages[0]!.content).toContain("what came before");
    expect(request.messages[0]!.content).toContain("0:www");
    expect(request.messages[0]!.content).toContain(`${count - 1}:www`);
    expect(request.messages[0]!.content).not.toContain(`\n${count}:www`);
  });

  it("never takes the tail, and summarises a first message too large for a request from its beginning", () => {
    expect(compactionChunk(settings, page(20, 10), 12)).toMatchObject({ count: 12, throughId: "m11" });
    const huge = compactionChunk(settings, page(3, 40_000), 2);
    expect(huge).toMatchObject({ count: 1, throughId: "m0" });
    expect(requestTokens(huge.request)).toBeLessThanOrEqual(4096);
  });

  /** A session in the memory service's semantics: compaction replaces a prefix by the summary, atomically. */
  function sessionStore(messages: SessionPage["messages"]) {
    const values = new Map<string, string>();
    const session = { summary: undefined as string | undefined, messages: [...messages], generation: 0 };
    const compactedThrough: string[] = [];
    const store = {
      getValue: async (key: string) => values.get(key),
      putValue: async (key: string, value: string) => void values.set(key, value),
      deleteValue: async (key: string) => void values.delete(key),
      readOldestSession: async (_key: string, options: { last: number }) => ({
        generation: session.generation,
        summary: session.summary,
        messages: session.messages.slice(0, options.last),
        total: session.messages.length,
      }),
      compactSession: async (_key: string, throughId: string, summary: string) => {
        const index = session.messages.findIndex((m) => m.id === throughId);
        session.messages.splice(0, index + 1);
        session.summary = summary;
        compactedThrough.push(throughId);
      },
    } as unknown as AgentStore;
    return { store, values, session, compactedThrough };
  }

  function modelAnswering(answer: (index: number) => Promise<string>) {
    const requests: ModelRequest[] = [];
    const model = {
      generate: async (request: ModelRequest) => {
        requests.push(request);
        return {
          text: await answer(requests.length),
          toolCalls: [],
          finishReason: "stop",
          usage: { inputTokens: 1, outputTokens: 1 },
        };
      },
    } as unknown as LanguageModel;
    return { model, requests };
  }

  const log = createLogger({ KNCLAW_LOG_LEVEL: "silent" }, "test");
  const overflowing: SessionView = { summary: undefined, truncated: true, messages: page(40, 10).messages as never };

  it("backs off after a failure instead of trying after every run, and clears the backoff once it works", async () => {
    const { store, values, compactedThrough } = sessionStore(messagesOf(40, 100));
    let works = false;
    const { model, requests } = modelAnswering(async () => {
      if (!works) throw new Error("context length exceeded");
      return "summary";
    });
    let now = 1_000_000;
    const attempt = () => compactIfNeeded({ store, model, settings, sessionKey: "s", history: overflowing, now, log });
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
    works = true;
    now += 120_000;
    expect(await attempt()).toBe(true);
    expect(compactedThrough).toEqual(["m31"]);
    expect(values.size).toBe(0);
  });

  it("compacts at most four chunks per run from the oldest end, and resumes after a failure without loss or repeat", async () => {
    const { store, session, compactedThrough } = sessionStore(messagesOf(400, 600));
    let failAt = 3;
    const { model, requests } = modelAnswering(async (index) => {
      if (index === failAt) throw new Error("provider down");
      return `summary ${index}`;
    });
    let now = 1_000_000;
    const attempt = () => compactIfNeeded({ store, model, settings, sessionKey: "s", history: overflowing, now, log });
    // The third chunk fails: two chunks stay compacted, the rest waits for the backoff.
    expect(await attempt()).toBe(true);
    expect(requests).toHaveLength(3);
    expect(compactedThrough).toHaveLength(2);
    expect(await attempt()).toBe(false);
    expect(requests).toHaveLength(3);
    failAt = 0;
    while (session.messages.length > 8) {
      now += 7 * 3_600_000;
      const before = requests.length;
      await attempt();
      expect(requests.length - before).toBeLessThanOrEqual(4);
    }
    // Every request fit the context; each chunk starts right after the one before and folds its summary in.
    for (const request of requests) expect(requestTokens(request)).toBeLessThanOrEqual(4096);
    const shown = (request: ModelRequest) => [
      ...request.messages[0]!.content.matchAll(/^(?:user|assistant): (\d+):/gm),
    ];
    const covered = requests.filter((_, i) => i !== 2).flatMap((request) => shown(request).map((m) => Number(m[1])));
    expect(covered).toEqual(Array.from({ length: 392 }, (_, i) => i));
    expect(shown(requests[2]!)[0]![1]).toBe(shown(requests[3]!)[0]![1]);
    expect(requests[3]!.messages[0]!.content).toContain("Earlier summary:\nsummary 2");
    expect(session.messages.map((m) => m.id)).toEqual(
      messagesOf(400, 0)
        .slice(392)
        .map((m) => m.id),
    );
  });
});
