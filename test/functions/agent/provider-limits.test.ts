import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnthropicMessagesModel } from "../../../functions/agent/providers/anthropic.ts";
import { ModelError, type ModelErrorKind } from "../../../functions/agent/providers/errors.ts";
import type { CallLimits, LanguageModel } from "../../../functions/agent/providers/model.ts";
import { OpenAIChatModel } from "../../../functions/agent/providers/openai.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../../fakes/anthropic/server.ts";
import type { Misbehaviour } from "../../fakes/misbehaviour.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { providerRequest } from "./support/provider-request.ts";

/**
 * Model calls are bounded whatever the provider does: a flooding stream is closed at the output cap, a stream that
 * hangs after its headers ends at the idle timeout, a body that never ends at the call's timeout, and the run's
 * wall clock ends any of them. Limits are short and configured; assertions are on the typed error, never on time.
 */
let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
});
afterAll(async () => {
  await Promise.all([openai.close(), anthropic.close()]);
});

const CAP = 64 * 1024;
const limits = (extra: Partial<CallLimits> = {}): CallLimits => ({
  timeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  maxOutputBytes: CAP,
  ...extra,
});

const providers: Array<[string, (stream: boolean) => LanguageModel, (reply: Misbehaviour) => void]> = [
  [
    "openai",
    (stream) =>
      new OpenAIChatModel({
        provider: "openai",
        model: "gpt-test",
        apiKey: "sk-test-key",
        baseURL: openai.url,
        maxRetries: 0,
        stream,
      }),
    (reply) => openai.enqueue(reply),
  ],
  [
    "anthropic",
    (stream) =>
      new AnthropicMessagesModel({
        model: "claude-test",
        apiKey: "sk-ant-test",
        baseURL: anthropic.url,
        maxRetries: 0,
        stream,
      }),
    (reply) => anthropic.enqueue(reply),
  ],
];

async function failure(model: LanguageModel, callLimits: CallLimits): Promise<ModelErrorKind> {
  const error = await model.generate(providerRequest(256, { limits: callLimits })).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ModelError);
  return (error as ModelError).kind;
}

describe.each(providers)("%s: bounded model calls", (_name, create, enqueue) => {
  describe.each([
    ["streaming", true],
    ["non-streaming", false],
  ])("%s", (_mode, stream) => {
    it("ends an endless 1 MiB/s answer at the output cap (output_too_large, not transient)", async () => {
      enqueue({ kind: "flood" });
      // Without a stream the body never completes: the call's own timeout ends it.
      const kind = await failure(create(stream), limits(stream ? {} : { timeoutMs: 300 }));
      expect(kind).toBe(stream ? "output_too_large" : "timeout");
    });

    it("refuses a finished answer larger than the cap", async () => {
      enqueue({ kind: "huge", bytes: 4 * CAP });
      expect(await failure(create(stream), limits())).toBe("output_too_large");
    });

    it("ends a provider that hangs after its headers (timeout, transient)", async () => {
      enqueue({ kind: "hang" });
      // A stream ends at the idle timeout; a plain answer has no chunks, so its call timeout applies.
      const kind = await failure(create(stream), limits(stream ? { idleTimeoutMs: 200 } : { timeoutMs: 300 }));
      expect(kind).toBe("timeout");
      expect(new ModelError(kind, "").transient).toBe(true);
    });

    it("ends the call when the run's wall clock runs out first (deadline)", async () => {
      enqueue({ kind: "hang" });
      expect(await failure(create(stream), limits({ deadlineMs: 200 }))).toBe("deadline");
    });
  });
});

describe("limits that hold are invisible", () => {
  it("an answer within the cap and the timeouts comes back whole", async () => {
    openai.enqueue({ kind: "message", text: "fine", fragment: 1 });
    const model = providers[0]![1](true);
    const response = await model.generate(providerRequest(256, { limits: limits({ idleTimeoutMs: 5_000 }) }));
    expect(response.text).toBe("fine");
  });
});
