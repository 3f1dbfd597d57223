import { z } from "zod";
import { defineEnv, EnvError, secret, text } from "./env-contract.ts";
import type { FunctionEnv } from "./function.ts";

/** Most shared variables are optional: a function that needs one says so when it uses it. */
const optional = z.string().optional();

/** Where Kubernetes mounts a pod's ServiceAccount token and the cluster's CA. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional();

/**
 * Delivery authentication as Knative Eventing's OIDC feature does it: the broker presents a token for the function's
 * audience on `POST /` (runtime/delivery-auth.ts checks it), and the function presents its own identity to the broker
 * (eventing/client/identity-token.ts). The renderer writes them when OIDC is on; `knclaw dev` sets them for what it
 * runs.
 */
const deliveryAuthVars = {
  deliveryAudience: text(
    "KNCLAW_DELIVERY_AUDIENCE",
    "the OIDC audience `POST /` requires a token for (Knative's `<group>/<kind>/<namespace>/<name>`); unset: deliveries need no token",
    optional,
  ),
  deliverySenders: text(
    "KNCLAW_DELIVERY_SENDERS",
    "the identities (`sub`) whose tokens `POST /` takes, comma-separated: the OIDC ServiceAccounts of the Triggers that deliver to this function (`system:serviceaccount:<namespace>:<trigger>-oidc-eventing.knative.dev-trigger`); unset: any holder of a token for the audience",
    optional,
  ),
  oidcIssuer: text(
    "KNCLAW_OIDC_ISSUER",
    "the issuer delivery tokens must carry (`iss`); required with `KNCLAW_DELIVERY_AUDIENCE`",
    httpUrl,
  ),
  oidcJwksUrl: text(
    "KNCLAW_OIDC_JWKS_URL",
    "where the issuer's signing keys are; unset: from `<issuer>/.well-known/openid-configuration`",
    httpUrl,
  ),
  oidcJwksTokenFile: text(
    "KNCLAW_OIDC_JWKS_TOKEN_FILE",
    `the token presented when the keys are read from the Kubernetes API server (${SERVICE_ACCOUNT_DIR}/token unless set), never to any other host`,
    z.string().default(`${SERVICE_ACCOUNT_DIR}/token`),
  ),
  oidcJwksCaFile: text(
    "KNCLAW_OIDC_JWKS_CA_FILE",
    `the CA the Kubernetes API server's certificate is checked against (${SERVICE_ACCOUNT_DIR}/ca.crt unless set)`,
    z.string().default(`${SERVICE_ACCOUNT_DIR}/ca.crt`),
  ),
  oidcTokenFile: text(
    "KNCLAW_OIDC_TOKEN_FILE",
    "a file holding this function's identity token for the broker, re-read when it changes (a projected ServiceAccount token); unset: events are sent with no token",
    optional,
  ),
};

/**
 * The variables every function shares; each function's own contract (functions/<name>/env.ts, skills/runtime/env.ts)
 * spreads these in before its own, so the renderer writes them first and in this order.
 */
export const platformVars = {
  entry: text(
    "KNCLAW_ENTRY",
    "the function's `app.ts` relative to the repository root (what `knclaw dev` mounts)",
    optional,
  ),
  component: text(
    "KNCLAW_COMPONENT",
    "what kind of function this is: `agent`, `channel`, `gateway`, `memory`, `skill` or `deadletter`",
    optional,
  ),
  platform: text("KNCLAW_PLATFORM", "the platform's name (`metadata.name` in knclaw.yaml)", optional),
  namespace: text("KNCLAW_NAMESPACE", "the namespace the platform runs in", optional),
  broker: text("KNCLAW_BROKER", "the name of the platform's Broker", optional),
  logLevel: text("KNCLAW_LOG_LEVEL", "pino log level (`info` unless set; `silent` under tests)", optional),
  logStream: text(
    "KNCLAW_LOG_STREAM",
    "where the JSON log lines go: `stdout` (unless set: what a container's log collector reads) or `stderr` (`knclaw dev` sets it, its standard output being the start-up listing)",
    z.enum(["stdout", "stderr"]).optional(),
  ),
  sink: text("K_SINK", "where events go: the Broker (a SinkBinding injects it, so does `knclaw dev`)", optional),
  ceOverrides: text(
    "K_CE_OVERRIDES",
    "JSON `{extensions}` added to every event sent (set by the SinkBinding)",
    optional,
  ),
  ...deliveryAuthVars,
};

/** The variables of a function that talks to the memory service (the renderer sets them when it does). */
export const memoryClientVars = {
  memoryUrl: text(
    "KNCLAW_MEMORY_URL",
    "the memory service's URL; a function that keeps state there does not start without it",
    optional,
  ),
  memoryToken: secret(
    "KNCLAW_MEMORY_TOKEN",
    "this function's memory token (its scope: the instance, `gateway`, `channel`, `deadletter`, `notes`, `skill`)",
    optional,
  ),
};

/**
 * The standard OpenTelemetry variables the renderer sets on every function when knclaw.yaml has a `telemetry` section
 * (runtime/telemetry.ts starts the SDK, which reads them itself; without an endpoint nothing starts).
 */
export const telemetryEnv = defineEnv({
  endpoint: text("OTEL_EXPORTER_OTLP_ENDPOINT", "the OTLP collector's base URL; unset: no telemetry SDK", optional),
  protocol: text("OTEL_EXPORTER_OTLP_PROTOCOL", "`http/protobuf` (default), `http/json` or `grpc`", optional),
  headers: secret("OTEL_EXPORTER_OTLP_HEADERS", "the exporter's headers, `key=value,...` (an API key)", optional),
  serviceName: text("OTEL_SERVICE_NAME", "`service.name`: the function's name (K_SERVICE when unset)", optional),
  sampler: text("OTEL_TRACES_SAMPLER", "the trace sampler (`parentbased_always_on` when unset)", optional),
  samplerArg: text("OTEL_TRACES_SAMPLER_ARG", "the sampler's ratio", optional),
  resourceAttributes: text("OTEL_RESOURCE_ATTRIBUTES", "extra resource attributes, `key=value,...`", optional),
  metricExportInterval: text("OTEL_METRIC_EXPORT_INTERVAL", "milliseconds between metric exports", optional),
});

/** The shared part of every function's env, as the renderer writes it before the function's own variables. */
export const platformEnv = defineEnv({ ...platformVars, ...memoryClientVars });

/** The memory service's URL and this function's token, for a function that cannot work without them. */
export function memoryClientSettings(env: FunctionEnv): { baseUrl: string; token: string } {
  const memoryUrl = platformEnv.read(env, "memoryUrl");
  const memoryToken = platformEnv.read(env, "memoryToken");
  if (memoryUrl === undefined || memoryToken === undefined) {
    throw new EnvError(
      `${platformEnv.names.memoryUrl} and ${platformEnv.names.memoryToken} must be set (the memory service)`,
    );
  }
  return { baseUrl: memoryUrl, token: memoryToken };
}
