import { describe, expect, it } from "vitest";
import { AnthropicMessagesModel } from "../../../functions/agent/providers/anthropic.ts";
import { DEMO_LABEL, DemoModel, exampleArguments } from "../../../functions/agent/providers/demo.ts";
import { ModelError } from "../../../functions/agent/providers/errors.ts";
import { MissingCredentialModel } from "../../../functions/agent/providers/missing-credential.ts";
import type { ModelRequest } from "../../../functions/agent/providers/model.ts";
import { OpenAIChatModel } from "../../../functions/agent/providers/openai.ts";
import { createLanguageModel, parseModelString } from "../../../functions/agent/providers/registry.ts";

describe("model registry", () => {
  it("parses provider/model strings, keeping slashes in the model id", () => {
    expect(parseModelString("openai-compatible/meta/llama-3")).toEqual({
      provider: "openai-compatible",
      modelId: "meta/llama-3",
    });
    expect(() => parseModelString("gpt-4o")).toThrow(/provider\/model/);
    expect(() => parseModelString("openai/")).toThrow();
  });

  it("builds the provider the string names", async () => {
    expect((await createLanguageModel({ model: "openai/gpt-4o", apiKey: "k" })).model).toBeInstanceOf(OpenAIChatModel);
    expect((await createLanguageModel({ model: "anthropic/claude-x", apiKey: "k" })).model).toBeInstanceOf(
      AnthropicMessagesModel,
    );
    const ollama = (await createLanguageModel({ model: "ollama/llama3.1" })).model;
    expect(ollama).toMatchObject({ provider: "ollama", modelId: "llama3.1" });
    await expect(createLanguageModel({ model: "openai-compatible/x" })).rejects.toThrow(/base URL/);
    await expect(createLanguageModel({ model: "mystery/x" })).rejects.toThrow(/unknown model provider/);
  });

  it("never stands the demo model in for a hosted provider without a key: every call fails naming the variable", async () => {
    for (const apiKey of [undefined, ""]) {
      for (const model of ["anthropic/claude-x", "openai/gpt-4o"]) {
        const resolved = await createLanguageModel({ model, apiKey, apiKeyName: "KNCLAW_PROVIDER_API_KEY" });
        expect(resolved.model).toBeInstanceOf(MissingCredentialModel);
        expect(resolved.model).not.toBeInstanceOf(DemoModel);
        expect(resolved.missingCredential).toContain("KNCLAW_PROVIDER_API_KEY");
        const failure = await resolved.model.generate({ system: "", messages: [], tools: [] }).catch((e) => e);
        expect(failure).toBeInstanceOf(ModelError);
        expect(failure).toMatchObject({ kind: "missing_credential", transient: false });
        expect((failure as Error).message).toMatch(/no API key: KNCLAW_PROVIDER_API_KEY is unset or empty/);
      }
    }
    // The demo model answers only where it is chosen, and its label says so without a word about keys.
    const chosen = await createLanguageModel({ model: "demo/echo" });
    expect(chosen.model).toBeInstanceOf(DemoModel);
    expect(chosen.missingCredential).toBeUndefined();
    expect(DEMO_LABEL).toBe("[demo model]");
  });
});

describe("demo model", () => {
  const tools = [
    {
      name: "kubernetes__get_pods",
      description: "List pods",
      parameters: {
        type: "object",
        properties: { namespace: { type: "string", default: "default" }, limit: { type: "integer", minimum: 1 } },
        required: ["namespace", "limit"],
      },
    },
  ];
  const request = (messages: ModelRequest["messages"], system = "You are helpful."): ModelRequest => ({
    system,
    messages,
    tools,
  });

  it("answers deterministically and says what it is", async () => {
    const model = new DemoModel();
    const a = await model.generate(request([{ role: "user", content: "hello" }]));
    const b = await model.generate(request([{ role: "user", content: "hello" }]));
    expect(a).toEqual(b);
    expect(a.text.startsWith(DEMO_LABEL)).toBe(true);
    expect(a.text).toContain("kubernetes__get_pods");
  });

  it("calls a tool the user names, with schema-valid arguments, then reports the result", async () => {
    const model = new DemoModel();
    const asked = await model.generate(request([{ role: "user", content: "please get_pods" }]));
    expect(asked.toolCalls).toEqual([
      {
        id: expect.any(String),
        name: "kubernetes__get_pods",
        arguments: JSON.stringify({ namespace: "default", limit: 1 }),
      },
    ]);
    const answered = await model.generate(
      request([
        { role: "user", content: "please get_pods" },
        { role: "assistant", content: asked.text, toolCalls: asked.toolCalls },
        {
          role: "tool",
          callId: asked.toolCalls[0]!.id,
          name: "kubernetes__get_pods",
          content: '["web-1"]',
          isError: false,
        },
      ]),
    );
    expect(answered.toolCalls).toEqual([]);
    expect(answered.text).toContain('kubernetes__get_pods answered: ["web-1"]');
  });

  it("answers a scheduled check with the heartbeat token", async () => {
    const answer = await new DemoModel().generate(
      request([{ role: "user", content: "anything new?" }], "This is a scheduled check."),
    );
    expect(answer.text).toBe("HEARTBEAT_OK");
  });

  it("takes a URL the user wrote for a URL argument", () => {
    expect(
      exampleArguments(
        { type: "object", properties: { url: { type: "string" } }, required: ["url"] },
        "get https://example.org/x please",
      ),
    ).toEqual({
      url: "https://example.org/x",
    });
  });

  it("builds example arguments from JSON Schema", () => {
    expect(
      exampleArguments(
        {
          type: "object",
          properties: {
            e: { enum: ["x", "y"] },
            s: { type: "string", minLength: 8 },
            a: { type: "array", minItems: 1, items: { type: "boolean" } },
          },
          required: ["e", "s", "a"],
        },
        "hi",
      ),
    ).toEqual({
      e: "x",
      s: "hi......",
      a: [false],
    });
  });
});
