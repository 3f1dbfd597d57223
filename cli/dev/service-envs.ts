import type { Log } from "../../eventing/broker/log.ts";
import { describeObject, isRecord, type KnativeObject } from "../../eventing/broker/objects.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { platformVars } from "../../runtime/platform-env.ts";
import type { ConfigMapVolumes } from "./config-map-volumes.ts";
import { buildFunctionEnv } from "./function-env.ts";
import type { SecretResolver } from "./secrets.ts";
import type { SinkFor } from "./sink-bindings.ts";

export interface ServiceEnvContext {
  secrets: SecretResolver;
  configMaps: KnativeObject[];
  port: number;
  rewrite: (value: string) => string;
  sinkFor: (service: KnativeObject) => SinkFor | undefined;
  redisUrl?: string;
  redisKeyPrefix?: string | undefined;
  functionLogs?: "stdout" | "stderr" | undefined;
  memoryPath?: string;
  /** Where the ConfigMap volumes are projected; without it none is (and their paths are left as they are). */
  volumes?: ConfigMapVolumes;
  log: Log;
}

/**
 * The environment of every ksvc that runs (its Secret values from cli/dev/secrets.ts, the trust bundle included):
 * the stream their logs go to (`KNCLAW_LOG_STREAM`: `knclaw dev` keeps stdout for its listing), the paths of their
 * ConfigMap volumes where they are projected here (config-map-volumes.ts); `--redis` redirects
 * the memory service (`--redis-key-prefix` its keys), and without it the memory service's embedded store keeps its file in the
 * state directory.
 */
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
    if (context.redisUrl && built.env[memoryEnv.names.backend] !== undefined) {
      built.env[memoryEnv.names.backend] = "redis";
      built.env[memoryEnv.names.redisUrl] = context.redisUrl;
    }
    if (context.functionLogs !== undefined) built.env[platformVars.logStream.name] ??= context.functionLogs;
    if (context.redisKeyPrefix !== undefined && built.env[memoryEnv.names.backend] === "redis") {
      built.env[memoryEnv.names.keyPrefix] = context.redisKeyPrefix;
    }
    if (context.memoryPath && built.env[memoryEnv.names.backend] === "embedded") {
      built.env[memoryEnv.names.embeddedPath] = context.memoryPath;
    }
    context.volumes?.apply(service, configMaps, built.env);
    return built.env;
  });
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
