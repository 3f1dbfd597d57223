import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { actAsAgent, completed, failed, type GatewayHarness, said, startGateway, TOKEN } from "./support/harness.ts";

let h: GatewayHarness;
let client: OpenAI;

beforeAll(async () => {
  h = await startGateway({ KNCLAW_GATEWAY_MAX_WAIT_SECONDS: "30" });
  client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  h.broker.events.length = 0;
  h.broker.onEvent = undefined;
});

describe("OpenAI-compatible chat completions through the official openai SDK", () => {
  it("answers a non-streaming completion with the run's output and usage", async () => {
    actAsAgent(h, (runId, instance, task) => [completed(runId, instance, `You said: ${task}`)]);
    const completion = await client.chat.completions.create({
      model: "knclaw:ops",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello there" },
      ],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]!.message).toMatchObject({ role: "assistant", content: "You said: hello there" });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    const request = readEvent(h.broker.ofType(T.RUN_REQUESTED)[0]!, T.RUN_REQUESTED);
    expect(request).toMatchObject({
      instance: "ops",
      task: "hello there",
      input: { conversation: [{ role: "system", content: "be brief" }] },
    });
  });

  it("streams what the run says, then stop, usage and [DONE]", async () => {
    actAsAgent(h, (runId, instance) => [
      said(runId, instance, "Checking the cluster…"),
      said(runId, instance, "All pods are healthy."),
      completed(runId, instance, "All pods are healthy."),
    ]);
    const stream = await client.chat.completions.create({
      model: "knclaw:ops",
      messages: [{ role: "user", content: "status?" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      if (chunk.choices[0]?.delta.content) content += chunk.choices[0].delta.content;
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(content).toBe("Checking the cluster…\n\nAll pods are healthy.");
    expect(finish).toBe("stop");
    expect(usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
  });

  it("keeps a conversation on the agent's side with the session-key header, scoped to the token", async () => {
    actAsAgent(h, (runId, instance) => [completed(runId, instance, "ok")]);
    await client.chat.completions.create(
      {
        model: "knclaw:dev",
        messages: [
          { role: "user", content: "one" },
          { role: "assistant", content: "ok" },
          { role: "user", content: "two" },
        ],
      },
      { headers: { "x-knclaw-session-key": "thread-7" } },
    );
    const request = readEvent(h.broker.ofType(T.RUN_REQUESTED)[0]!, T.RUN_REQUESTED);
    expect(request).toMatchObject({ instance: "dev", task: "two", sessionKey: "http:admin:thread-7" });
    expect(request.input).toBeUndefined();
  });

  it("reports a failed run as an error the SDK does not retry, and unknown models as 404", async () => {
    const retrying = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: TOKEN, maxRetries: 2 });
    actAsAgent(h, (runId, instance) => [failed(runId, instance, "budget_exceeded:tokens", "out of tokens")]);
    const error = await retrying.chat.completions
      .create({ model: "knclaw:ops", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(422);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("out of tokens");
    expect(h.broker.ofType(T.RUN_REQUESTED)).toHaveLength(1);
    const missing = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect((missing as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
    expect((missing as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
    const unauthorized = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: "wrong-token", maxRetries: 0 });
    const denied = await unauthorized.chat.completions
      .create({ model: "knclaw:ops", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("streams a failure as an error event the SDK raises", async () => {
    actAsAgent(h, (runId, instance) => [failed(runId, instance, "model_error", "provider down")]);
    const stream = await client.chat.completions.create({
      model: "knclaw:ops",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const consume = async () => {
      for await (const _chunk of stream) {
        // drain
      }
    };
    await expect(consume()).rejects.toThrow(/provider down/);
  });

  it("refuses malformed requests with 400 in OpenAI's error format", async () => {
    const post = (body: string) =>
      fetch(`${h.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body,
      });
    for (const body of [
      "{",
      "{}",
      '{"model":"knclaw:ops","messages":[]}',
      '{"model":"knclaw:ops","messages":[{"role":"assistant","content":"x"}]}',
    ]) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    }
    expect(h.broker.events).toHaveLength(0);
  });
});
