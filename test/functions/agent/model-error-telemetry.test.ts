import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { dataAsJson } from "../../../eventing/cloudevent/event.ts";
import { startTelemetry, type Telemetry } from "../../../runtime/telemetry.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../../support/otlp-receiver.ts";
import { agentEnv, type MemoryFixture, startMemory, TestBus, testSkills } from "./support/harness.ts";

/**
 * A provider that refuses the request (OpenAI's 400 with an error body): the provider's status, error type and
 * message reach the run's outcome (run.failed), the log line and the model span, exported over OTLP; anything
 * key-like in the provider's message is redacted everywhere.
 */
const PROVIDER_MESSAGE = "The model `gpt-nope` does not exist or you do not have access to it.";
let receiver: OtlpReceiver;
let telemetry: Telemetry;
let memory: MemoryFixture;
let model: FakeOpenAI;
const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  telemetry = await startTelemetry(process.env, { serviceName: "agent-ops" });
  memory = await startMemory();
  model = await startFakeOpenAI();
});

afterAll(async () => {
  await telemetry?.shutdown();
  if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
  await receiver?.close();
  await model?.close();
  await memory?.close();
});

describe("a model provider's error", () => {
  it("is on the run, in the log and on the span, with its status, type and message", async () => {
    model.setResponder(() => ({
      kind: "error",
      status: 400,
      message: `${PROVIDER_MESSAGE} (key sk-proj-abcdefghijklmnop)`,
      type: "invalid_request_error",
      code: "model_not_found",
    }));
    const bus = new TestBus();
    await bus.startAgent({
      ...agentEnv({ memory, modelUrl: model.url, skills: testSkills({ calls: {} }) }),
      KNCLAW_LOG_LEVEL: "error",
    });
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4736";
    const event = makeEvent(T.RUN_REQUESTED, {
      source: "/knclaw/gateway",
      data: {
        instance: "ops",
        runId: `run-model-error-${Date.now()}`,
        task: "hello",
      },
      extensions: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(await bus.deliver(event)).toBe(200);
    await bus.close();
    await telemetry.shutdown();

    const failed = bus.queue.find((e) => e.attributes.type === T.RUN_FAILED)!;
    const data = dataAsJson(failed) as { reason: string; message: string };
    expect(data.reason).toBe("model_error:bad_request");
    expect(data.message).toContain(PROVIDER_MESSAGE);
    expect(data.message).toContain("HTTP 400");
    expect(data.message).not.toContain("sk-proj-abcdefghijklmnop");

    const span = receiver.spans.find((s) => s.attributes["gen_ai.operation.name"] === "chat")!;
    expect(span.traceId).toBe(traceId);
    expect(span.attributes).toMatchObject({
      "error.type": "bad_request",
      "http.response.status_code": 400,
      "knclaw.provider.error_type": "invalid_request_error",
    });
    expect(span.status.code).toBe(2);
    expect(span.status.message).toContain(PROVIDER_MESSAGE);
    expect(JSON.stringify(receiver.spans)).not.toContain("sk-proj-abcdefghijklmnop");

    const line = receiver.logs.find((l) => l.body.startsWith("model call failed"))!;
    expect(line.body).toContain(PROVIDER_MESSAGE);
    expect(line.traceId).toBe(traceId);
    expect(line.attributes).toMatchObject({ status: 400, errorType: "invalid_request_error", kind: "bad_request" });
    expect(JSON.stringify(receiver.logs)).not.toContain("sk-proj-abcdefghijklmnop");
  });
});
