/**
 * Section `telemetry`: where every function exports its traces, metrics and logs (OpenTelemetry, OTLP). Without it
 * the functions start no SDK at all (runtime/telemetry.ts).
 */
import { z } from "zod";
import { EgressRule, SecretRef } from "../primitives.ts";

const Telemetry = z.strictObject({
  endpoint: z
    .url({ protocol: /^https?$/ })
    .describe(
      "The collector's OTLP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g. `http://otel-collector.observability.svc:4318`; signals go to `/v1/traces`, `/v1/metrics`, `/v1/logs` under it.",
    ),
  protocol: z
    .enum(["http/protobuf", "http/json", "grpc"])
    .default("http/protobuf")
    .describe("OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`)."),
  headers: SecretRef.optional().describe(
    "A Secret key holding the exporter's headers as `key=value` pairs, comma-separated (`OTEL_EXPORTER_OTLP_HEADERS`), e.g. an API key.",
  ),
  sampler: z
    .enum([
      "always_on",
      "always_off",
      "traceidratio",
      "parentbased_always_on",
      "parentbased_always_off",
      "parentbased_traceidratio",
    ])
    .optional()
    .describe("Trace sampler (`OTEL_TRACES_SAMPLER`); the SDK's default is `parentbased_always_on`."),
  samplerArg: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe("The ratio of a `*traceidratio` sampler (`OTEL_TRACES_SAMPLER_ARG`)."),
  resourceAttributes: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/), z.string().regex(/^[^,=]*$/))
    .default({})
    .describe(
      "Extra resource attributes of every function (`OTEL_RESOURCE_ATTRIBUTES`), e.g. `deployment.environment.name: prod`.",
    ),
  metricExportIntervalSeconds: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("How often metrics are exported (`OTEL_METRIC_EXPORT_INTERVAL`); the SDK's default is 60 s."),
  collector: EgressRule.optional().describe(
    "Where the collector runs, for the egress NetworkPolicies. Default: from the endpoint: a `<service>.<namespace>.svc` host is that namespace on the endpoint's port, an IP its /32, any other host that host.",
  ),
});

export const telemetrySection = {
  telemetry: Telemetry.optional().describe(
    "OpenTelemetry export of every function; `knclaw dev --otlp URL` does the same on one machine.",
  ),
};
