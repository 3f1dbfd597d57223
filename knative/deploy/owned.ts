/**
 * Finding and removing what `knclaw deploy` made: the objects of the managed kinds carrying this platform's ownership
 * labels, in every namespace (a skill's Roles live in the namespaces it is granted). Nothing without both labels is
 * ever listed, so nothing else can be deleted. Kinds the cluster does not serve (no Knative Eventing, say) have no
 * objects to find.
 */
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { DeployError } from "./apply.ts";
import { apiMessage, apiStatus } from "./cluster.ts";
import { describeObject, MANAGED_KINDS, type ManagedKind, objectKey, ownerSelector } from "./ownership.ts";

export async function listOwned(api: KubernetesObjectApi, platform: string): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const kind of MANAGED_KINDS) {
    for (const item of await listKind(api, kind, ownerSelector(platform))) {
      // List items come without apiVersion and kind; put them back so each item names itself.
      out.push({ ...item, apiVersion: kind.apiVersion, kind: kind.kind });
    }
  }
  return out;
}

async function listKind(api: KubernetesObjectApi, kind: ManagedKind, selector: string): Promise<KubernetesObject[]> {
  try {
    const list = await api.list(
      kind.apiVersion,
      kind.kind,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      selector,
    );
    return list.items;
  } catch (error) {
    if (apiStatus(error) === 404 || (error instanceof Error && error.message.startsWith("Unrecognized API version"))) {
      return [];
    }
    throw new DeployError(`cannot list ${kind.kind} (${kind.apiVersion}): ${apiMessage(error)}`);
  }
}

export interface DeleteOptions {
  dryRun?: boolean;
  onDeleted?: (object: string) => void;
}

/** Delete the objects in reverse apply order (sources and Triggers first, the namespace last); returns their names. */
export async function deleteObjects(
  api: KubernetesObjectApi,
  objects: readonly KubernetesObject[],
  options: DeleteOptions = {},
): Promise<string[]> {
  const rank = (o: KubernetesObject) =>
    MANAGED_KINDS.findIndex((k) => k.kind === o.kind && k.apiVersion === o.apiVersion);
  const ordered = [...objects].sort((a, b) => rank(b) - rank(a));
  const deleted: string[] = [];
  for (const object of ordered) {
    const name = describeObject(object);
    try {
      await api.delete(object, undefined, options.dryRun ? "All" : undefined, undefined, undefined, "Background");
    } catch (error) {
      if (apiStatus(error) === 404) continue;
      throw new DeployError(`delete ${name}: ${apiMessage(error)}`);
    }
    deleted.push(name);
    options.onDeleted?.(name);
  }
  return deleted;
}

export interface PrunePlan {
  /** Owned objects the render no longer has. */
  stale: KubernetesObject[];
  /** Owned namespaces the render no longer has: kept (their contents may not be knclaw's), reported. */
  keptNamespaces: string[];
}

/**
 * What a deploy removes: owned objects whose identity the render does not hold. A dropped Namespace is never
 * deleted by a deploy (that would take everything in it along); Secrets only when this deploy was given the full
 * set (`--secrets DIR`), since a deploy without it has no say about them.
 */
export function planPrune(
  owned: readonly KubernetesObject[],
  desired: readonly KubernetesObject[],
  options: { secretsGiven: boolean },
): PrunePlan {
  const keep = new Set(desired.map(objectKey));
  const stale: KubernetesObject[] = [];
  const keptNamespaces: string[] = [];
  for (const object of owned) {
    if (keep.has(objectKey(object))) continue;
    if (object.kind === "Namespace") keptNamespaces.push(object.metadata?.name ?? "");
    else if (object.kind === "Secret" && object.apiVersion === "v1" && !options.secretsGiven) continue;
    else stale.push(object);
  }
  return { stale, keptNamespaces };
}
