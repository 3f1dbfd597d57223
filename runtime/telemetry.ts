import { randomUUID } from "node:crypto";
import { context, createContextKey, metrics, propagation, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import type { FunctionEnv } from "./function.ts";

/**
 * The OpenTelemetry Node SDK of a function process, configured by the standard `OTEL_*` variables (exporter endpoint,
 * protocol, headers, sampler, resource attributes; OTLP over HTTP/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says
 * otherwise), exporting traces, metrics and logs. Without an OTLP endpoint nothing is loaded or started: the
 * OpenTelemetry API calls all over knclaw stay no-ops and cost next to nothing.
 *
 * The SDK reads the process's environment, so `env` is `process.env` (a function's main; `knclaw dev` sets the
 * variables of `--otlp` on its own process before it starts the SDK).
 */
export interface Telemetry {
  /** Flush what is buffered and stop exporting; the OpenTelemetry API is a no-op again afterwards. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** `service.name` when OTEL_SERVICE_NAME is not set (default: K_SERVICE, then `knclaw`). */
  serviceName?: string;
  /**
   * Many functions in one process (`knclaw dev`): one SDK for the process, each span exported under the resource of
   * the function it ran in (see inFunction), so a collector shows the same services as on a cluster.
   */
  perFunction?: boolean;
}

const OFF: Telemetry = { shutdown: async () => undefined };
const ENDPOINTS = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];

let running = false;

/** Whether an SDK is exporting in this process (the log bridge forwards lines only then). */
export function telemetryRunning(): boolean {
  return running;
}

/** An OTLP endpoint is configured and the SDK is not disabled. */
export function telemetryConfigured(env: FunctionEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  return ENDPOINTS.some((name) => (env[name] ?? "").trim() !== "");
}

/** The Kubernetes and instance attributes of this process (k8s.pod.name is the pod's host name on a cluster). */
export function kubernetesAttributes(env: FunctionEnv): Record<string, string> {
  const onCluster = env.KUBERNETES_SERVICE_HOST !== undefined;
  const pod = env.POD_NAME ?? (onCluster ? env.HOSTNAME : undefined);
  const namespace = env.POD_NAMESPACE ?? env.KNCLAW_NAMESPACE;
  return {
    ...(namespace ? { "k8s.namespace.name": namespace } : {}),
    ...(pod ? { "k8s.pod.name": pod } : {}),
    "service.instance.id": pod ?? randomUUID(),
    ...(env.KNCLAW_PLATFORM ? { "service.namespace": env.KNCLAW_PLATFORM } : {}),
    ...(env.K_REVISION ? { "service.version": env.K_REVISION } : {}),
  };
}

/** Start the SDK when an endpoint is configured; one per process (a second call while one runs is refused). */
export async function startTelemetry(
  env: FunctionEnv = process.env,
  options: TelemetryOptions = {},
): Promise<Telemetry> {
  if (!telemetryConfigured(env)) return OFF;
  if (running) throw new Error("OpenTelemetry is already started in this process");
  // Loaded only here: the SDK and its exporters are a noticeable part of a cold start that exports nothing.
  const { NodeSDK, resources } = await import("@opentelemetry/sdk-node");
  const serviceName = env.OTEL_SERVICE_NAME ?? options.serviceName ?? env.K_SERVICE ?? "knclaw";
  const resource = resources.resourceFromAttributes(kubernetesAttributes(env));
  const spanProcessors = options.perFunction ? await perFunctionSpanProcessors(resource) : undefined;
  const sdk = new NodeSDK({
    serviceName,
    resource,
    resourceDetectors: [resources.envDetector, resources.hostDetector, resources.processDetector],
    instrumentations: [],
    ...(spanProcessors ? { spanProcessors } : {}),
  });
  sdk.start();
  running = true;
  let stopping: Promise<void> | undefined;
  return {
    shutdown: () => {
      stopping ??= sdk.shutdown().finally(() => {
        running = false;
        trace.disable();
        metrics.disable();
        logs.disable();
        propagation.disable();
        context.disable();
      });
      return stopping;
    },
  };
}

const FUNCTION = createContextKey("knclaw.function");

/** Run `work` as part of the function `service` (knclaw dev: its spans are exported under that service's resource). */
export function inFunction<T>(service: string, work: () => T): T {
  if (!running) return work();
  return context.with(context.active().setValue(FUNCTION, service), work);
}

/** The functions' spans under their own resources, from one batch processor and one OTLP exporter. */
async function perFunctionSpanProcessors(base: import("@opentelemetry/sdk-node").resources.Resource) {
  const [{ resources, tracing }, { OTLPTraceExporter }] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/exporter-trace-otlp-proto"),
  ]);
  type ReadableSpan = import("@opentelemetry/sdk-node").tracing.ReadableSpan;
  type Resource = import("@opentelemetry/sdk-node").resources.Resource;
  const serviceOf = new WeakMap<object, string>();
  const resourceOf = new Map<string, Resource>();
  const resourceFor = (service: string): Resource => {
    let found = resourceOf.get(service);
    if (found === undefined) {
      found = resources
        .defaultResource()
        .merge(base)
        .merge(resources.resourceFromAttributes({ "service.name": service }));
      resourceOf.set(service, found);
    }
    return found;
  };
  const exporter = new OTLPTraceExporter();
  const marker: import("@opentelemetry/sdk-node").tracing.SpanProcessor = {
    onStart: (span, parent) => {
      const service = parent.getValue(FUNCTION);
      if (typeof service === "string") serviceOf.set(span, service);
    },
    onEnd: () => undefined,
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const perFunction: import("@opentelemetry/sdk-node").tracing.SpanExporter = {
    // The span keeps everything but its resource: a prototype view, so nothing is copied.
    export: (spans, done) =>
      exporter.export(
        spans.map((span): ReadableSpan => {
          const service = serviceOf.get(span);
          return service === undefined ? span : Object.create(span, { resource: { value: resourceFor(service) } });
        }),
        done,
      ),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  };
  return [marker, new tracing.BatchSpanProcessor(perFunction)];
}
