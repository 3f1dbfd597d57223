import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import type { Log } from "../../eventing/broker/log.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf } from "../../eventing/broker/objects.ts";

/**
 * The ConfigMap volumes of the Knative Services `knclaw dev` runs, projected as the kubelet projects them (each item's
 * key at its `path` with its `mode`, else every key as a file of its name; the volume's `defaultMode`, else 0644)
 * into a private directory of this session, removed at shutdown. A function runs on this machine, not in a container,
 * so the mount path does not exist here: a value of its environment that names a path under a mount is rewritten to
 * the projected copy, as cluster URLs are rewritten to where their targets run locally.
 *
 * Only volumes whose every source is a ConfigMap among the objects are projected: a `configMap` volume or a `projected`
 * one of `configMap` sources (the agents' skill folders of a config rendered for a cluster: knative/render/
 * skill-folders.ts). Token volumes are cli/dev/oidc.ts's; a ConfigMap that is not among the objects is logged and its
 * volume left out, where a cluster's pod would wait for it.
 */
export class ConfigMapVolumes {
  private readonly dir = mkdtempSync(join(tmpdir(), "knclaw-dev-volumes-"));
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** Project the service's ConfigMap volumes and rewrite the container paths in `env` (changed in place). */
  apply(
    service: KnativeObject,
    configMaps: ReadonlyMap<string, Record<string, string>>,
    env: Record<string, string>,
  ): void {
    const namespace = namespaceOf(service);
    const pod = podSpec(service);
    const container = Array.isArray(pod.containers) && isRecord(pod.containers[0]) ? pod.containers[0] : {};
    const volumes = new Map(
      (Array.isArray(pod.volumes) ? pod.volumes : []).filter(isRecord).map((v) => [String(v.name), v] as const),
    );
    const mounts: Array<{ mountPath: string; dir: string }> = [];
    for (const mount of Array.isArray(container.volumeMounts) ? container.volumeMounts.filter(isRecord) : []) {
      const volume = volumes.get(String(mount.name));
      const sources = volume === undefined ? undefined : configMapSources(volume);
      if (sources === undefined || typeof mount.mountPath !== "string") continue;
      const missing = sources.filter((source) => !configMaps.has(`${namespace}/${source.name}`));
      if (missing.length > 0) {
        this.log.warn(
          { service: describeObject(service), volume: mount.name, missing: missing.map((source) => source.name) },
          "ConfigMap volume not projected: its ConfigMaps are not among the objects",
        );
        continue;
      }
      const dir = join(this.dir, namespace, service.metadata.name, String(mount.name));
      for (const source of sources) project(configMaps.get(`${namespace}/${source.name}`)!, source, dir);
      mounts.push({ mountPath: mount.mountPath.replace(/\/+$/, ""), dir });
    }
    for (const [name, value] of Object.entries(env)) {
      let rewritten = value;
      for (const { mountPath, dir } of mounts) {
        // The mount path itself or a path below it, not a longer name that starts the same.
        rewritten = rewritten.replace(new RegExp(`${escapeRegExp(mountPath)}(?=/|$|[^\\w.-])`, "g"), dir);
      }
      env[name] = rewritten;
    }
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface ConfigMapSource {
  name: string;
  items?: Array<{ key: string; path: string; mode?: number }>;
  defaultMode?: number;
}

/** The ConfigMap sources of a volume made only of them, else undefined. */
function configMapSources(volume: Record<string, unknown>): ConfigMapSource[] | undefined {
  if (isRecord(volume.configMap)) return [{ ...(volume.configMap as unknown as ConfigMapSource) }];
  if (!isRecord(volume.projected) || !Array.isArray(volume.projected.sources)) return undefined;
  const defaultMode = typeof volume.projected.defaultMode === "number" ? volume.projected.defaultMode : undefined;
  const sources = volume.projected.sources.filter(isRecord);
  if (sources.length === 0 || !sources.every((source) => isRecord(source.configMap))) return undefined;
  return sources.map((source) => ({
    ...(defaultMode === undefined ? {} : { defaultMode }),
    ...(source.configMap as unknown as ConfigMapSource),
  }));
}

function project(data: Record<string, string>, source: ConfigMapSource, dir: string): void {
  const items: NonNullable<ConfigMapSource["items"]> =
    source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) throw new Error(`ConfigMap ${source.name} has no key ${item.key}`);
    const path = resolve(dir, item.path);
    // The API server refuses `..` in an item's path; a manifest folder is data, so it is checked here too.
    if (!path.startsWith(`${dir}${sep}`))
      throw new Error(`ConfigMap ${source.name}: item path ${item.path} leaves its volume`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, value, { mode: item.mode ?? source.defaultMode ?? 0o644 });
  }
}

function podSpec(service: KnativeObject): Record<string, unknown> {
  const spec = isRecord(service.spec) ? service.spec : {};
  const template = isRecord(spec.template) ? spec.template : {};
  return isRecord(template.spec) ? template.spec : {};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
