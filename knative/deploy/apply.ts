/**
 * Server-side apply of a rendered platform, one object at a time in dependency order (ownership.ts), as field
 * manager `knclaw`. `force` takes over fields another manager (say an earlier `kubectl apply`) set: the config is the
 * source of truth for every field knclaw renders, and fields it does not render stay with whoever set them.
 * Each object is read first so the result says what happened: created, configured (the server stored a change) or
 * unchanged (the same apply twice stores nothing, so the resourceVersion stays).
 */
import { type KubernetesObject, type KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { apiMessage, apiStatus } from "./cluster.ts";
import { applyOrder, describeObject, MANAGER, withOwnerLabels } from "./ownership.ts";

export interface ApplyObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

type ApplyAction = "created" | "configured" | "unchanged";

export interface AppliedObject {
  object: string;
  action: ApplyAction;
  /** What the server answered with (status included), for the readiness wait. */
  live: KubernetesObject;
}

export interface ApplyOptions {
  platform: string;
  /** `--dry-run=server`: the server checks and defaults everything, stores nothing. */
  dryRun?: boolean;
  force?: boolean;
  onApplied?: (result: AppliedObject) => void;
}

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployError";
  }
}

export async function readLive(api: KubernetesObjectApi, object: ApplyObject): Promise<KubernetesObject | undefined> {
  try {
    return await api.read({
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace ?? "" },
    });
  } catch (error) {
    if (apiStatus(error) === 404) return undefined;
    throw new DeployError(`cannot read ${describeObject(object)}: ${apiMessage(error)}`);
  }
}

export async function applyObjects(
  api: KubernetesObjectApi,
  objects: readonly ApplyObject[],
  options: ApplyOptions,
): Promise<AppliedObject[]> {
  const results: AppliedObject[] = [];
  for (const rendered of applyOrder(objects)) {
    const object = withOwnerLabels(rendered, options.platform);
    const before = await readLive(api, object);
    let after: KubernetesObject;
    try {
      after = await api.patch(
        object,
        undefined,
        options.dryRun ? "All" : undefined,
        MANAGER,
        options.force ?? true,
        PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      throw new DeployError(`apply ${describeObject(object)}: ${apiMessage(error)}`);
    }
    const result: AppliedObject = {
      object: describeObject(object),
      action: actionOf(before, after, options),
      live: after,
    };
    results.push(result);
    options.onApplied?.(result);
  }
  return results;
}

function actionOf(before: KubernetesObject | undefined, after: KubernetesObject, options: ApplyOptions): ApplyAction {
  if (before === undefined) return "created";
  // A dry run stores nothing, so the resourceVersion cannot tell: compare what the server would keep instead.
  if (options.dryRun) return stored(before) === stored(after) ? "unchanged" : "configured";
  return before.metadata?.resourceVersion === after.metadata?.resourceVersion ? "unchanged" : "configured";
}

/** The object without the bookkeeping a write changes by itself. */
function stored(object: KubernetesObject): string {
  const { managedFields: _m, resourceVersion: _r, generation: _g, ...metadata } = object.metadata ?? {};
  return JSON.stringify({ ...object, metadata });
}
