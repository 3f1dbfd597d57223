import { describe, expect, it } from "vitest";
import { validateConfigValue } from "../../../knative/config/index.ts";
import { type RenderedObject, render } from "../../../knative/render/index.ts";
import { minimalConfig } from "../fixtures.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain Kubernetes JSON.
const find = (objects: RenderedObject[], kind: string, name: string): any =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain Kubernetes JSON.
const envOf = (ksvc: any): Record<string, unknown> =>
  Object.fromEntries(
    // biome-ignore lint/suspicious/noExplicitAny: a container env entry.
    ksvc.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
  );

const withTelemetry = (telemetry: Record<string, unknown>) =>
  render(validateConfigValue({ ...minimalConfig(), telemetry }));

describe("the telemetry section", () => {
  it("sets nothing without it", () => {
    const objects = render(validateConfigValue(minimalConfig()));
    expect(Object.keys(envOf(find(objects, "Service", "agent-ops"))).filter((n) => n.startsWith("OTEL_"))).toEqual([]);
  });

  it("gives every function the OTEL_* variables with its own service name, headers from a Secret", () => {
    const objects = withTelemetry({
      endpoint: "http://otel-collector.observability.svc:4318",
      headers: { secret: "otlp", key: "headers" },
      sampler: "parentbased_traceidratio",
      samplerArg: 0.25,
      resourceAttributes: { "deployment.environment.name": "prod" },
      metricExportIntervalSeconds: 15,
    });
    for (const name of ["agent-ops", "skill-time", "memory", "gateway"]) {
      const env = envOf(find(objects, "Service", name));
      expect(env).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability.svc:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_EXPORTER_OTLP_HEADERS: { secretKeyRef: { name: "otlp", key: "headers" } },
        OTEL_SERVICE_NAME: name,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod",
        OTEL_METRIC_EXPORT_INTERVAL: "15000",
      });
    }
  });

  it("lets every function reach the collector through its egress NetworkPolicy", () => {
    const inCluster = withTelemetry({ endpoint: "http://otel-collector.observability.svc:4318" });
    const policy = find(inCluster, "NetworkPolicy", "agent-ops-egress");
    expect(policy.spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } } }],
      ports: [{ port: 4318, protocol: "TCP" }],
    });
    const external = withTelemetry({ endpoint: "https://otlp.example.com" });
    expect(
      find(external, "NetworkPolicy", "skill-time-egress").metadata.annotations["knclaw.dev/egress-hosts"],
    ).toContain("otlp.example.com");
  });
});
