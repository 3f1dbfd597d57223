import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevSession, startDevSession } from "../../cli/commands/dev.ts";
import { invokeRun } from "../../cli/commands/invoke.ts";
import { defaultConfigPath } from "../../knative/config/index.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.ts";

/**
 * One gateway run under `knclaw dev --otlp` (the demo model asked to "use now" calls the time skill), exported over
 * OTLP/HTTP protobuf to a real receiver that decodes the official protobuf: every span of every function is in one
 * trace, in hop order, with the GenAI attributes, and the metrics and log records carry the same trace.
 */
let receiver: OtlpReceiver;
let session: DevSession;
let runId: string;
const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  session = await startDevSession(
    { config: defaultConfigPath, port: "0", logLevel: "warn", brokerStore: "memory", otlp: receiver.url },
    {},
  );
  const { finished, run } = await invokeRun("assistant", "what time is it? use now", {
    url: session.runtime.url,
    env: {},
    wait: 60,
  });
  expect(finished).toBe(true);
  runId = run.runId;
  session.cleanup();
  await session.runtime.shutdown();
  // Shutting the SDK down flushes every batch: what the receiver has now is all there is.
  await session.telemetry.shutdown();
}, 120_000);

afterAll(async () => {
  if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
  await receiver?.close();
});

describe("telemetry of one run across every hop", () => {
  it("exports OTLP over HTTP/protobuf", () => {
    expect([...receiver.contentTypes]).toEqual(["application/x-protobuf"]);
  });

  it("puts every span of the run, from every function, in one trace with parent links in hop order", () => {
    const runSpans = receiver.spans.filter((s) => s.attributes["knclaw.run_id"] === runId);
    expect(runSpans.length).toBeGreaterThan(0);
    const traceId = runSpans[0]!.traceId;
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const services = new Set(spans.map((s) => s.service));
    for (const service of ["gateway", "broker-ingress", "agent-assistant", "skill-time"]) {
      expect(services).toContain(service);
    }
    // The gateway's request span is the root; every other span's parent is in the same trace.
    const roots = spans.filter((s) => s.parentSpanId === "");
    expect(roots.map((s) => `${s.service} ${s.name}`)).toEqual(["gateway POST /api/v1/instances/:instance/runs"]);
    for (const span of spans) if (span.parentSpanId !== "") expect(byId.has(span.parentSpanId)).toBe(true);

    // The chain a tool call takes, each hop the child of the one before.
    const chain = (span: (typeof spans)[number]) => {
      const names: string[] = [];
      for (let s: typeof span | undefined = span; s; s = byId.get(s.parentSpanId))
        names.unshift(`${s.service}:${s.name}`);
      return names;
    };
    const tool = spans.find((s) => s.name === "execute_tool now")!;
    expect(tool.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "now",
      "gen_ai.tool.call.id": expect.any(String),
    });
    const toolChain = chain(tool);
    expect(toolChain[0]).toBe("gateway:POST /api/v1/instances/:instance/runs");
    const hops = toolChain.map((n) => n.split(":")[0]);
    expect(hops.indexOf("broker-ingress")).toBeGreaterThan(0);
    expect(hops.indexOf("broker-filter")).toBeGreaterThan(hops.indexOf("broker-ingress"));
    expect(hops.indexOf("agent-assistant")).toBeGreaterThan(hops.indexOf("broker-filter"));
    expect(hops.lastIndexOf("skill-time")).toBeGreaterThan(hops.indexOf("agent-assistant"));
    // The run ends at the gateway: its run.completed delivery is in the same trace, after the skill's reply.
    const completed = spans.find((s) => s.service === "gateway" && s.name === "process dev.knclaw.run.completed")!;
    const completedChain = chain(completed).map((n) => n.split(":")[0]);
    expect(completedChain).toContain("skill-time");
    expect(completedChain.lastIndexOf("agent-assistant")).toBeGreaterThan(completedChain.indexOf("skill-time"));
  });

  it("describes model calls with the GenAI conventions", () => {
    const calls = receiver.spans.filter((s) => s.attributes["gen_ai.operation.name"] === "chat");
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]!.attributes).toMatchObject({
      "gen_ai.provider.name": expect.any(String),
      "gen_ai.request.model": expect.any(String),
      "gen_ai.usage.input_tokens": expect.any(Number),
      "gen_ai.usage.output_tokens": expect.any(Number),
      "gen_ai.response.finish_reasons": expect.any(Array),
    });
  });

  it("exports the GenAI client metrics and knclaw's run and tool metrics", () => {
    const names = new Set(receiver.metrics.map((m) => m.name));
    for (const name of [
      "gen_ai.client.token.usage",
      "gen_ai.client.operation.duration",
      "knclaw.runs",
      "knclaw.broker.deliveries",
      "knclaw.broker.queue.depth",
      "knclaw.tool.calls",
    ]) {
      expect(names).toContain(name);
    }
    const runs = receiver.metrics.filter((m) => m.name === "knclaw.runs").flatMap((m) => m.points);
    expect(runs.some((p) => p.attributes["knclaw.run.outcome"] === "completed" && p.value >= 1)).toBe(true);
    const tools = receiver.metrics.filter((m) => m.name === "knclaw.tool.calls").flatMap((m) => m.points);
    expect(
      tools.some((p) => p.attributes["knclaw.skill"] === "time" && p.attributes["knclaw.tool.outcome"] === "ok"),
    ).toBe(true);
  });

  it("exports log records that carry the run's trace id", () => {
    const traceId = receiver.spans.find((s) => s.attributes["knclaw.run_id"] === runId)!.traceId;
    const lines = receiver.logs.filter((l) => l.traceId === traceId);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.body === "tool succeeded")).toBe(true);
  });
});
