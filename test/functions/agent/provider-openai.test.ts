import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError } from "../../../functions/agent/providers/errors.ts";
import type { ModelRequest } from "../../../functions/agent/providers/model.ts";
import { OpenAIChatModel } from "../../../functions/agent/providers/openai.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { providerRequest } from "./support/provider-request.ts";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});

const request = (extra: Partial<ModelRequest> = {}) => providerRequest(256, extra);
const model = (options: Partial<ConstructorParameters<typeof OpenAIChatModel>[0]> = {}) =>
  new OpenAIChatModel({
    provider: "openai",
    model: "gpt-test",
    apiKey: "sk-test-key",
    baseURL: fake.url,
    maxRetries: 0,
    ...options,
  });

describe.each([
  ["streaming", true],
  ["non-streaming", false],
])("OpenAI provider through the openai SDK (%s)", (_mode, stream) => {
  it("returns text, finish reason and usage, sending the system prompt and tools in OpenAI's shape", async () => {
    fake.enqueue({ kind: "message", text: "Hello there, friend.", usage: { prompt_tokens: 21, completion_tokens: 5 } });
    const deltas: string[] = [];
    const response = await model({ stream }).stream(request(), { onTextDelta: (d) => deltas.push(d) });
    expect(response).toMatchObject({
      text: "Hello there, friend.",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 21, outputTokens: 5 },
    });
    if (stream) expect(deltas.length).toBeGreaterThan(1);
    const sent = fake.requests.at(-1)!.body;
    expect(sent).toMatchObject({
      model: "gpt-test",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      tools: [
        { type: "function", function: { name: "kubernetes__get_pods" } },
        { type: "function", function: { name: "http__fetch" } },
      ],
      max_completion_tokens: 256,
    });
    expect(sent.stream === true).toBe(stream);
    if (stream) expect(sent.stream_options).toEqual({ include_usage: true });
  });

  it("assembles parallel tool calls whose arguments arrive in fragments", async () => {
    fake.enqueue({
      kind: "message",
      text: "Checking both.",
      fragment: 3,
      toolCalls: [
        { id: "call_a", name: "kubernetes__get_pods", arguments: '{"namespace":"kube-system"}' },
        { id: "call_b", name: "http__fetch", arguments: '{"url":"https://example.com/status"}' },
      ],
    });
    let started = 0;
    const response = await model({ stream }).stream(request(), { onToolCallStart: () => started++ });
    expect(response.finishReason).toBe("tool_calls");
    expect(response.text).toBe("Checking both.");
    expect(response.toolCalls).toEqual([
      { id: "call_a", name: "kubernetes__get_pods", arguments: '{"namespace":"kube-system"}' },
      { id: "call_b", name: "http__fetch", arguments: '{"url":"https://example.com/status"}' },
    ]);
    if (stream) expect(started).toBe(1);
  });

  it("keeps malformed arguments verbatim for the gate, and echoes them back sanitised so the next call is valid", async () => {
    fake.enqueue({
      kind: "message",
      toolCalls: [{ id: "call_m", name: "http__fetch", arguments: '{"url": "https://exa' }],
    });
    const first = await model({ stream }).generate(request());
    expect(first.toolCalls[0]!.arguments).toBe('{"url": "https://exa');
    fake.enqueue({ kind: "message", text: "Sorry." });
    const second = await model({ stream }).generate(
      request({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "", toolCalls: first.toolCalls },
          {
            role: "tool",
            callId: "call_m",
            name: "http__fetch",
            content: '{"error":{"class":"ValidationFailed"}}',
            isError: true,
          },
        ],
      }),
    );
    expect(second.text).toBe("Sorry.");
    const echoed = (fake.requests.at(-1)!.body.messages as Array<Record<string, unknown>>)[2]!;
    expect(echoed).toMatchObject({
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_m", function: { arguments: "{}" } }],
    });
  });
});

describe("OpenAI-compatible servers", () => {
  it("survives Ollama: whole calls in one chunk, index 0 for every parallel call, finish_reason stop", async () => {
    fake.enqueue({
      kind: "message",
      style: "ollama",
      toolCalls: [
        { id: "call_1", name: "kubernetes__get_pods", arguments: '{"namespace":"a"}' },
        { id: "call_2", name: "kubernetes__get_pods", arguments: '{"namespace":"b"}' },
      ],
    });
    const response = await model({ provider: "ollama", compatible: true }).generate(request());
    expect(response.finishReason).toBe("tool_calls");
    expect(response.toolCalls.map((c) => c.arguments)).toEqual(['{"namespace":"a"}', '{"namespace":"b"}']);
    expect(fake.requests.at(-1)!.body).toMatchObject({ max_tokens: 256 });
    expect(fake.requests.at(-1)!.body.max_completion_tokens).toBeUndefined();
  });

  it("synthesises unique ids when a server omits them and estimates usage when none is reported", async () => {
    fake.setResponder(() => ({
      kind: "message",
      style: "ollama",
      toolCalls: [{ name: "http__fetch", arguments: "{}" }],
    }));
    const response = await model({ compatible: true, includeUsage: false, stream: false }).generate(request());
    fake.setResponder(() => ({ kind: "message", text: "ok" }));
    expect(response.toolCalls[0]!.id).toMatch(/^call_/);
    const noUsage = await model({ compatible: true, includeUsage: false }).generate(request());
    expect(noUsage.usageEstimated).toBe(true);
    expect(noUsage.usage.inputTokens).toBeGreaterThan(0);
  });
});

describe("OpenAI errors", () => {
  it("lets the SDK retry a 429 honouring retry-after-ms, with X-Stainless-Retry-Count", async () => {
    const before = fake.requests.length;
    fake.enqueue(
      { kind: "error", status: 429, code: "rate_limit_exceeded", headers: { "retry-after-ms": "5" } },
      { kind: "message", text: "after retry" },
    );
    const response = await model({ maxRetries: 2 }).generate(request());
    expect(response.text).toBe("after retry");
    const attempts = fake.requests.slice(before);
    expect(attempts.map((r) => r.headers["x-stainless-retry-count"])).toEqual(["0", "1"]);
  });

  it.each([
    [429, "rate_limited", true, { "retry-after": "7" }],
    [500, "server", true, {}],
    [503, "overloaded", true, {}],
    [401, "auth", false, {}],
    [400, "bad_request", false, {}],
  ] as const)("classifies %i as %s (transient: %s)", async (status, kind, transient, headers) => {
    fake.enqueue({ kind: "error", status, headers: { ...headers } });
    const error = await model()
      .generate(request())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ kind, status, transient });
    if (status === 429) expect((error as ModelError).retryAfterMs).toBe(7000);
  });

  it("classifies an Ollama-style error without code, and never puts the key in the message", async () => {
    fake.enqueue({ kind: "error", status: 400, message: "model 'x' not found, key sk-abcdefghijklmnop" });
    const error = (await model({ compatible: true })
      .generate(request())
      .catch((e: unknown) => e)) as ModelError;
    expect(error.kind).toBe("bad_request");
    expect(error.message).not.toContain("sk-abcdefghijklmnop");
    const wrongKey = (await model({ apiKey: "sk-wrong" })
      .generate(request())
      .catch((e: unknown) => e)) as ModelError;
    expect(wrongKey.kind).toBe("auth");
    expect(wrongKey.message).not.toContain("sk-wrong");
  });

  it("reports a refused connection as transient", async () => {
    const error = (await model({ baseURL: "http://127.0.0.1:9/v1" })
      .generate(request())
      .catch((e: unknown) => e)) as ModelError;
    expect(error).toMatchObject({ kind: "connection", transient: true });
  });
});

describe("the fake validates like OpenAI", () => {
  it("refuses a conversation where a tool call has no answer", async () => {
    fake.enqueue({ kind: "message", text: "unused" });
    const error = (await model()
      .generate(
        request({
          messages: [
            { role: "user", content: "hi" },
            { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "http__fetch", arguments: "{}" }] },
            { role: "user", content: "again" },
          ],
        }),
      )
      .catch((e: unknown) => e)) as ModelError;
    expect(error.kind).toBe("bad_request");
    expect(error.message).toContain("tool_call_ids did not have response messages");
  });
});
