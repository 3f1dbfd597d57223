import type { Log } from "../../eventing/broker/log.ts";
import { describeObject, isRecord, type KnativeObject } from "../../eventing/broker/objects.ts";
import { buildFunctionEnv } from "./function-env.ts";
import type { SecretResolver } from "./secrets.ts";
import type { SinkFor } from "./sink-bindings.ts";

/**
 * The environment of every ksvc that runs, built together because some values depend on the others: skills trust
 * the agent signing keys generated for this session, and `--redis` redirects the memory service.
 */
const MEMORY_BACKEND_ENV = "KNCLAW_MEMORY_BACKEND";
const REDIS_URL_ENV = "KNCLAW_REDIS_URL";
const AGENT_KEYS_ENV = "KNCLAW_AGENT_KEYS";
const COMPONENT_LABEL = "knclaw.dev/component";

export interface ServiceEnvContext {
  secrets: SecretResolver;
  configMaps: KnativeObject[];
  port: number;
  rewrite: (value: string) => string;
  sinkFor: (service: KnativeObject) => SinkFor | undefined;
  redisUrl?: string;
  log: Log;
}

export function buildServiceEnvs(services: KnativeObject[], context: ServiceEnvContext): Array<Record<string, string>> {
  const configMaps = readConfigMaps(context.configMaps);
  const envs = services.map((service) => {
    const sink = context.sinkFor(service);
    const built = buildFunctionEnv(service, {
      secrets: context.secrets,
      configMaps,
      port: context.port,
      rewrite: context.rewrite,
      sink: sink ? { url: context.rewrite(sink.url), ceOverrides: sink.ceOverrides } : undefined,
    });
    if (built.missing.length > 0) {
      context.log.warn(
        { service: describeObject(service), missing: built.missing },
        "secret values not found (set them in the environment)",
      );
    }
    if (context.redisUrl && built.env[MEMORY_BACKEND_ENV] !== undefined) {
      built.env[MEMORY_BACKEND_ENV] = "redis";
      built.env[REDIS_URL_ENV] = context.redisUrl;
    }
    return built.env;
  });
  const generatedKeys = context.secrets.generatedAgentKeys();
  if (Object.keys(generatedKeys).length > 0) {
    services.forEach((service, index) => {
      if (service.metadata.labels?.[COMPONENT_LABEL] !== "skill") return;
      const env = envs[index]!;
      const declared = env[AGENT_KEYS_ENV] ? (JSON.parse(env[AGENT_KEYS_ENV]) as Record<string, unknown>) : {};
      env[AGENT_KEYS_ENV] = JSON.stringify({ ...generatedKeys, ...declared });
    });
  }
  return envs;
}

function readConfigMaps(objects: KnativeObject[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const object of objects) {
    const data: Record<string, string> = {};
    if (isRecord(object.data)) {
      for (const [key, value] of Object.entries(object.data)) if (typeof value === "string") data[key] = value;
    }
    out.set(`${object.metadata.namespace || "default"}/${object.metadata.name}`, data);
  }
  return out;
}
