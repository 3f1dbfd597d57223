import { trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { createFunctionApp } from "../../runtime/app.ts";
import { serve } from "../../runtime/serve.ts";
import {
  kubernetesAttributes,
  startTelemetry,
  telemetryConfigured,
  telemetryRunning,
} from "../../runtime/telemetry.ts";
import { startOtlpReceiver } from "../support/otlp-receiver.ts";

const VARIABLES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "K_SERVICE",
  "KNCLAW_NAMESPACE",
  "POD_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("runtime telemetry", () => {
  it("starts nothing without an OTLP endpoint, or when the SDK is disabled", async () => {
    expect(telemetryConfigured({})).toBe(false);
    expect(telemetryConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(
      false,
    );
    expect(telemetryConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    const telemetry = await startTelemetry({});
    expect(telemetryRunning()).toBe(false);
    const span = trace.getTracer("t").startSpan("s");
    expect(span.isRecording()).toBe(false);
    span.end();
    await telemetry.shutdown();
  });

  it("names the pod, its namespace and the instance from the environment", () => {
    expect(
      kubernetesAttributes({
        KUBERNETES_SERVICE_HOST: "10.0.0.1",
        HOSTNAME: "agent-ops-00001-deployment-abc",
        KNCLAW_NAMESPACE: "knclaw",
        KNCLAW_PLATFORM: "acme",
        K_REVISION: "agent-ops-00001",
      }),
    ).toEqual({
      "k8s.namespace.name": "knclaw",
      "k8s.pod.name": "agent-ops-00001-deployment-abc",
      "service.instance.id": "agent-ops-00001-deployment-abc",
      "service.namespace": "acme",
      "service.version": "agent-ops-00001",
    });
    // Off a cluster the host name is not a pod's: the instance id is made up per process.
    const local = kubernetesAttributes({ HOSTNAME: "laptop" });
    expect(local["k8s.pod.name"]).toBeUndefined();
    expect(local["service.instance.id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a function's main exports its spans under its service name and resource, and flushes them at shutdown", async () => {
    const receiver = await startOtlpReceiver();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    process.env.K_SERVICE = "gateway";
    process.env.KNCLAW_NAMESPACE = "knclaw";
    process.env.POD_NAME = "gateway-00001-deployment-x";
    process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment.name=test";
    const app = createFunctionApp();
    app.get("/hello/:name", (c) => c.text("hi"));
    const served = await serve(app, { port: 0, host: "127.0.0.1", telemetry: true });
    expect(telemetryRunning()).toBe(true);
    const traceId = "6bf92f3577b34da6a3ce929d0e0e4736";
    const response = await fetch(`${served.url}/hello/you`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(response.status).toBe(200);
    await served.shutdown();
    expect(telemetryRunning()).toBe(false);
    await receiver.close();

    const span = receiver.spans.find((s) => s.name === "GET /hello/:name")!;
    expect(span).toMatchObject({ service: "gateway", traceId, parentSpanId: "00f067aa0ba902b7" });
    expect(span.attributes).toMatchObject({ "http.request.method": "GET", "http.response.status_code": 200 });
    expect(span.resource).toMatchObject({
      "k8s.namespace.name": "knclaw",
      "k8s.pod.name": "gateway-00001-deployment-x",
      "service.instance.id": "gateway-00001-deployment-x",
      "deployment.environment.name": "test",
    });
  });
});
