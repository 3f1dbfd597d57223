import { DemoModel } from "./demo.ts";
import { MissingCredentialModel } from "./missing-credential.ts";
import type { LanguageModel } from "./model.ts";

/**
 * Model strings are `provider/model`. `openai` and `anthropic` need a key: one that is unset or empty gives a model
 * whose every call fails naming where the key comes from (missing-credential.ts), never a silent stand-in. The demo
 * model answers only when it is chosen (`demo/...`). `openai-compatible` (and the aliases `ollama`, `vllm`,
 * `litellm`) speak Chat Completions to the configured base URL with the compatible-server tolerances on; a key is
 * optional there (the agent reads an empty variable as unset), and a server that wants one answers 401, which fails
 * the run as `model_error:auth`.
 *
 * An instance runs one model, so only that provider's SDK is loaded (and, in a bundle, only its chunk is parsed):
 * each SDK costs megabytes of memory and milliseconds of cold start that a scale-from-zero function pays every time.
 */
export interface ModelSettings {
  /** `provider/model`. */
  model: string;
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  /** Where the key comes from (the agent's variable), named when it is missing; never its value. */
  apiKeyName?: string;
  stream?: boolean;
  includeUsage?: boolean;
  heartbeatToken?: string;
  maxRetries?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface ResolvedModel {
  model: LanguageModel;
  /** Set when the provider's key is missing: what is wrong, for the agent to log at start (every call fails with it). */
  missingCredential?: string;
}

const COMPATIBLE = new Set(["openai-compatible", "ollama", "vllm", "litellm"]);
const DEFAULT_BASE_URLS: Record<string, string> = { ollama: "http://127.0.0.1:11434/v1" };

export function parseModelString(model: string): { provider: string; modelId: string } {
  const slash = model.indexOf("/");
  if (slash <= 0 || slash === model.length - 1)
    throw new Error(`model must be provider/model, got ${JSON.stringify(model)}`);
  return { provider: model.slice(0, slash), modelId: model.slice(slash + 1) };
}

export async function createLanguageModel(settings: ModelSettings): Promise<ResolvedModel> {
  const { provider, modelId } = parseModelString(settings.model);
  const common = {
    ...(settings.maxRetries !== undefined ? { maxRetries: settings.maxRetries } : {}),
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.fetch !== undefined ? { fetch: settings.fetch } : {}),
  };
  const missing = (): ResolvedModel => {
    const problem = `${provider}: no API key: ${settings.apiKeyName ?? "the API key"} is unset or empty (provider.apiKey names the Secret it comes from)`;
    return { model: new MissingCredentialModel(provider, modelId, problem), missingCredential: problem };
  };
  if (provider === "demo") {
    return {
      model: new DemoModel(modelId, settings.heartbeatToken ? { heartbeatToken: settings.heartbeatToken } : {}),
    };
  }
  if (provider === "openai" || provider === "anthropic") {
    if (settings.apiKey === undefined || settings.apiKey === "") return missing();
    if (provider === "anthropic") {
      const { AnthropicMessagesModel } = await import("./anthropic.ts");
      return {
        model: new AnthropicMessagesModel({
          model: modelId,
          apiKey: settings.apiKey,
          ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}),
          stream: settings.stream ?? true,
          ...common,
        }),
      };
    }
    const { OpenAIChatModel } = await import("./openai.ts");
    return {
      model: new OpenAIChatModel({
        provider,
        model: modelId,
        apiKey: settings.apiKey,
        ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}),
        stream: settings.stream ?? true,
        includeUsage: settings.includeUsage ?? true,
        ...common,
      }),
    };
  }
  if (COMPATIBLE.has(provider)) {
    const baseURL = settings.baseUrl ?? DEFAULT_BASE_URLS[provider];
    if (baseURL === undefined) throw new Error(`${provider} needs a base URL (provider.baseUrl)`);
    const { OpenAIChatModel } = await import("./openai.ts");
    return {
      model: new OpenAIChatModel({
        provider,
        model: modelId,
        // Local servers need no key; the SDK insists on a value, which such servers ignore.
        apiKey: settings.apiKey ?? "not-needed",
        baseURL,
        compatible: true,
        stream: settings.stream ?? true,
        includeUsage: settings.includeUsage ?? true,
        ...common,
      }),
    };
  }
  throw new Error(`unknown model provider ${JSON.stringify(provider)}`);
}
