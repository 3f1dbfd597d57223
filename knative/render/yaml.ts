/**
 * Rendered objects as YAML that `kubectl apply -f DIR`, kustomize and Argo CD all take: one file per function (its
 * ServiceAccount, RBAC, NetworkPolicy, ksvc, SinkBinding, Triggers and PingSources), `00-platform.yaml` first
 * (Namespace, default-deny policy, Broker) because kubectl applies a directory in file-name order, then
 * `05-skill-folders.yaml` (the ConfigMaps of the agents' skill folders: skill-folders.ts), and a
 * kustomization.yaml listing the files. Stale files of functions since removed are not deleted: render into a fresh
 * directory (or let Argo CD prune).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { LABEL_ROUTE } from "../../runtime/names.ts";
import { SKILL_FOLDER_COMPONENT } from "./skill-folders.ts";
import type { RenderedObject } from "./types.ts";

const HEADER = "# Rendered by `knclaw render` from knclaw.yaml: edit the config, not this file.\n";

export function toYaml(objects: readonly RenderedObject[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })}`).join("");
}

export interface ManifestFile {
  path: string;
  content: string;
}

function fileKey(object: RenderedObject): string {
  const labels = object.metadata.labels ?? {};
  if (object.kind === "Namespace" || object.kind === "Broker" || labels["knclaw.dev/component"] === undefined)
    return "00-platform";
  // Before the agents that mount them: kubectl applies a directory in file-name order.
  if (labels["knclaw.dev/component"] === SKILL_FOLDER_COMPONENT) return "05-skill-folders";
  return `10-${labels[LABEL_ROUTE] ?? labels["app.kubernetes.io/name"] ?? object.metadata.name}`;
}

/**
 * Group objects into files (keeping the render order inside each) plus kustomization.yaml. `kubectl apply -f DIR`
 * would also read kustomization.yaml, so leave it out (`kustomization: false`) for that; `kubectl apply -k DIR`,
 * kustomize and Argo CD use it.
 */
export function manifestFiles(
  objects: readonly RenderedObject[],
  options: { kustomization?: boolean } = {},
): ManifestFile[] {
  const groups = new Map<string, RenderedObject[]>();
  for (const object of objects) {
    const key = fileKey(object);
    groups.set(key, [...(groups.get(key) ?? []), object]);
  }
  const names = [...groups.keys()].sort();
  const files = names.map((name) => ({ path: `${name}.yaml`, content: HEADER + toYaml(groups.get(name)!) }));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: files.map((f) => f.path),
  };
  if (options.kustomization !== false)
    files.push({ path: "kustomization.yaml", content: HEADER + stringify(kustomization, { lineWidth: 0 }) });
  return files;
}

/** Write the manifest files into `dir` (created if missing); returns the paths written. */
export function writeManifests(
  objects: readonly RenderedObject[],
  dir: string,
  options: { kustomization?: boolean } = {},
): string[] {
  mkdirSync(dir, { recursive: true });
  return manifestFiles(objects, options).map((file) => {
    const path = join(dir, file.path);
    writeFileSync(path, file.content);
    return path;
  });
}
