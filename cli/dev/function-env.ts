import { isRecord, type KnativeObject, namespaceOf } from "../../eventing/broker/objects.ts";
import type { SecretResolver } from "./secrets.ts";

/**
 * The environment a ksvc's container would get, for running it locally: its declared `env` (values, secretKeyRefs,
 * configMapKeyRefs, the namespace fieldRef), the Knative Serving variables, and K_SINK / K_CE_OVERRIDES as a
 * SinkBinding would inject them. Cluster URLs in values are rewritten to where the target runs locally.
 */
export interface EnvContext {
  secrets: SecretResolver;
  configMaps: ReadonlyMap<string, Record<string, string>>;
  /** K_SINK / K_CE_OVERRIDES for this ksvc, when a SinkBinding (or the dev default) gives one. */
  sink?: { url: string; ceOverrides?: string };
  port: number;
  rewrite(value: string): string;
}

export interface BuiltEnv {
  env: Record<string, string>;
  /** Variables whose Secret value could not be found (names only, never values). */
  missing: string[];
}

export function buildFunctionEnv(service: KnativeObject, context: EnvContext): BuiltEnv {
  const name = service.metadata.name;
  const namespace = namespaceOf(service);
  const env: Record<string, string> = {};
  const missing: string[] = [];
  const container = firstContainer(service);
  for (const item of Array.isArray(container?.env) ? container.env : []) {
    if (!isRecord(item) || typeof item.name !== "string") continue;
    if (typeof item.value === "string") {
      env[item.name] = context.rewrite(item.value);
      continue;
    }
    const from = isRecord(item.valueFrom) ? item.valueFrom : undefined;
    if (!from) {
      env[item.name] = "";
      continue;
    }
    if (isRecord(from.secretKeyRef)) {
      const ref = from.secretKeyRef;
      const value = context.secrets.resolve({
        secret: String(ref.name),
        key: String(ref.key),
        namespace,
        envName: item.name,
        service,
      });
      if (value !== undefined) env[item.name] = value;
      else if (ref.optional !== true) missing.push(`${item.name} (Secret ${String(ref.name)}, key ${String(ref.key)})`);
    } else if (isRecord(from.configMapKeyRef)) {
      const ref = from.configMapKeyRef;
      const value = context.configMaps.get(`${namespace}/${String(ref.name)}`)?.[String(ref.key)];
      if (value !== undefined) env[item.name] = context.rewrite(value);
    } else if (isRecord(from.fieldRef) && from.fieldRef.fieldPath === "metadata.namespace") {
      env[item.name] = namespace;
    }
  }
  const revision = `${name}-00001`;
  Object.assign(env, { PORT: String(context.port), K_SERVICE: name, K_CONFIGURATION: name, K_REVISION: revision });
  if (context.sink) {
    env.K_SINK = context.sink.url;
    if (context.sink.ceOverrides !== undefined) env.K_CE_OVERRIDES = context.sink.ceOverrides;
  }
  return { env, missing };
}

function firstContainer(service: KnativeObject): Record<string, unknown> | undefined {
  const spec = isRecord(service.spec) ? service.spec : undefined;
  const template = spec && isRecord(spec.template) ? spec.template : undefined;
  const podSpec = template && isRecord(template.spec) ? template.spec : undefined;
  const containers = podSpec && Array.isArray(podSpec.containers) ? podSpec.containers : [];
  return isRecord(containers[0]) ? containers[0] : undefined;
}
