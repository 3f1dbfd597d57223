import { describe, expect, it } from "vitest";
import { createLanguageModel } from "../../functions/agent/providers/registry.ts";
import { ConfigError, validateConfigValue } from "../../knative/config/index.ts";
import { PROVIDERS } from "../../knative/config/sections/instances.ts";
import { minimalConfig } from "./fixtures.ts";

function withInstance(ops: Record<string, unknown>): Record<string, unknown> {
  const config = minimalConfig() as { instances: { ops: Record<string, unknown> } };
  config.instances.ops = { ...config.instances.ops, ...ops };
  return config;
}

function issuesOf(value: unknown): Array<{ path: string; rule: string }> {
  try {
    validateConfigValue(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  return [];
}

/** The model strings the agent's provider registry (and its README) supports, the config schema accepts. */
describe("instance model providers", () => {
  it("accepts ollama/<model> on Ollama's default local port, and with a base URL", () => {
    for (const model of ["ollama/llama3", "ollama/llama3.1:8b", "ollama/library/qwen2.5:7b-instruct"]) {
      expect(validateConfigValue(withInstance({ model })).instances.ops?.model).toBe(model);
    }
    const served = validateConfigValue(
      withInstance({ model: "ollama/llama3", provider: { baseUrl: "http://ollama.models.svc:11434/v1" } }),
    );
    expect(served.instances.ops?.provider.baseUrl).toBe("http://ollama.models.svc:11434/v1");
  });

  it("accepts vllm/ and litellm/ with a base URL, and says they need one without", () => {
    for (const provider of ["vllm", "litellm"]) {
      const model = `${provider}/meta-llama/Llama-3.1-8B-Instruct`;
      expect(issuesOf(withInstance({ model, provider: { baseUrl: "http://llm.example.com/v1" } }))).toEqual([]);
      expect(issuesOf(withInstance({ model }))).toEqual([
        expect.objectContaining({ path: "instances.ops.provider.baseUrl", rule: "provider" }),
      ]);
    }
  });

  it("knows exactly the providers the agent can build", async () => {
    for (const provider of Object.keys(PROVIDERS)) {
      const resolved = await createLanguageModel({
        model: `${provider}/m`,
        baseUrl: "http://127.0.0.1:9/v1",
        apiKey: "k",
      });
      expect(resolved.model.provider, provider).toBe(provider);
    }
    await expect(createLanguageModel({ model: "acme/m" })).rejects.toThrow(/unknown model provider/);
    expect(issuesOf(withInstance({ model: "acme/m" }))).toEqual([
      expect.objectContaining({ path: "instances.ops.model", rule: "model" }),
    ]);
  });
});
