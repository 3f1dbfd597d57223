import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnthropicMessagesModel, toAnthropicMessages } from "../../../functions/agent/providers/anthropic.ts";
import { ModelError } from "../../../functions/agent/providers/errors.ts";
import type { ModelRequest } from "../../../functions/agent/providers/model.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../../fakes/anthropic/server.ts";
import { providerRequest } from "./support/provider-request.ts";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});

const request = (extra: Partial<ModelRequest> = {}) => providerRequest(300, extra);
const model = (options: Partial<ConstructorParameters<typeof AnthropicMessagesModel>[0]> = {}) =>
  new AnthropicMessagesModel({
    model: "claude-test",
    apiKey: "sk-ant-test",
    baseURL: fake.url,
    maxRetries: 0,
    ...options,
  });

describe.each([
  ["streaming", true],
  ["non-streaming", false],
])("Anthropic provider through @anthropic-ai/sdk (%s)", (_mode, stream) => {
  it("returns text and usage, sending system, max_tokens and input_schema tools", async () => {
    fake.enqueue({
      kind: "message",
      content: [{ type: "text", text: "Hello from Claude." }],
      usage: { input_tokens: 40, output_tokens: 6 },
    });
    const deltas: string[] = [];
    const response = await model({ stream }).stream(request(), { onTextDelta: (d) => deltas.push(d) });
    expect(response).toEqual({
      text: "Hello from Claude.",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 40, outputTokens: 6 },
    });
    if (stream) expect(deltas.join("")).toBe("Hello from Claude.");
    expect(fake.requests.at(-1)!.body).toMatchObject({
      model: "claude-test",
      system: "be brief",
      max_tokens: 300,
      tools: [{ name: "kubernetes__get_pods", input_schema: { type: "object" } }, { name: "http__fetch" }],
    });
    expect(fake.requests.at(-1)!.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("returns parallel tool_use blocks (input streamed as partial JSON) and answers them as tool_result blocks", async () => {
    fake.enqueue({
      kind: "message",
      fragment: 4,
      content: [
        { type: "text", text: "Let me look." },
        { type: "tool_use", id: "toolu_a", name: "kubernetes__get_pods", input: { namespace: "default" } },
        { type: "tool_use", id: "toolu_b", name: "http__fetch", input: { url: "https://example.com" } },
      ],
    });
    const response = await model({ stream }).generate(request());
    expect(response.finishReason).toBe("tool_calls");
    expect(response.text).toBe("Let me look.");
    expect(response.toolCalls.map((c) => [c.id, c.name, JSON.parse(c.arguments)])).toEqual([
      ["toolu_a", "kubernetes__get_pods", { namespace: "default" }],
      ["toolu_b", "http__fetch", { url: "https://example.com" }],
    ]);
    fake.enqueue({ kind: "message", content: [{ type: "text", text: "All good." }] });
    const next = await model({ stream }).generate(
      request({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: response.text, toolCalls: response.toolCalls },
          { role: "tool", callId: "toolu_a", name: "kubernetes__get_pods", content: "[]", isError: false },
          { role: "tool", callId: "toolu_b", name: "http__fetch", content: '{"error":"denied"}', isError: true },
        ],
      }),
    );
    expect(next.text).toBe("All good.");
    const sent = fake.requests.at(-1)!.body.messages as Array<{
      role: string;
      content: Array<Record<string, unknown>>;
    }>;
    expect(sent[2]).toEqual({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_a", content: "[]", is_error: false },
        { type: "tool_result", tool_use_id: "toolu_b", content: '{"error":"denied"}', is_error: true },
      ],
    });
  });
});

describe("Anthropic specifics", () => {
  it("keeps streamed malformed tool input verbatim for the gate, and sends {} back as input", async () => {
    fake.enqueue({
      kind: "message",
      content: [{ type: "tool_use", id: "toolu_m", name: "http__fetch", input: {}, rawInput: '{"url": "htt' }],
    });
    const response = await model().generate(request());
    expect(response.toolCalls[0]!.arguments).toBe('{"url": "htt');
    expect(toAnthropicMessages([{ role: "assistant", content: "", toolCalls: response.toolCalls }])).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_m", name: "http__fetch", input: {} }] },
    ]);
  });

  it("merges same-role turns, drops empty text and puts tool results first in their user turn", () => {
    expect(
      toAnthropicMessages([
        { role: "user", content: "a" },
        { role: "user", content: "" },
        { role: "assistant", content: "", toolCalls: [{ id: "t1", name: "x", arguments: "{}" }] },
        { role: "tool", callId: "t1", name: "x", content: "", isError: false },
        { role: "user", content: "and now?" },
      ]),
    ).toEqual([
      { role: "user", content: [{ type: "text", text: "a" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "x", input: {} }] },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: "(empty)", is_error: false },
          { type: "text", text: "and now?" },
        ],
      },
    ]);
  });

  it("lets the SDK retry 529 overloaded, then succeeds", async () => {
    const before = fake.requests.length;
    fake.enqueue(
      { kind: "error", status: 529, headers: { "retry-after-ms": "5" } },
      { kind: "message", content: [{ type: "text", text: "back" }] },
    );
    expect((await model({ maxRetries: 2 }).generate(request())).text).toBe("back");
    expect(fake.requests.length - before).toBe(2);
  });

  it.each([
    [429, "rate_limited", true],
    [529, "overloaded", true],
    [500, "server", true],
    [401, "auth", false],
  ] as const)("classifies %i as %s", async (status, kind, transient) => {
    fake.enqueue({ kind: "error", status, headers: status === 429 ? { "retry-after": "3" } : {} });
    const error = (await model()
      .generate(request())
      .catch((e: unknown) => e)) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ kind, transient });
    if (status === 429) expect(error.retryAfterMs).toBe(3000);
  });

  it("surfaces an overload reported mid-stream as a transient error", async () => {
    fake.enqueue({ kind: "stream_error", type: "overloaded_error" });
    const error = (await model()
      .generate(request())
      .catch((e: unknown) => e)) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error.transient).toBe(true);
  });

  it("the fake refuses a tool_use left without a tool_result, as the API does", async () => {
    const error = (await model()
      .generate(
        request({
          messages: [
            { role: "user", content: "hi" },
            { role: "assistant", content: "", toolCalls: [{ id: "toolu_x", name: "http__fetch", arguments: "{}" }] },
            { role: "user", content: "?" },
          ],
        }),
      )
      .catch((e: unknown) => e)) as ModelError;
    expect(error.kind).toBe("bad_request");
    expect(error.message).toContain("tool_result");
  });
});
