/**
 * `knclaw deploy` as a library: apply the rendered platform (plus the Secrets it is given), prune what this platform
 * applied before and the config no longer renders, then wait for the Broker, the Triggers and the ksvcs to be Ready
 * and collect the public URLs.
 */
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { ANNOTATION_DEV_PATH_PREFIX, LABEL_VISIBILITY } from "../../runtime/names.ts";
import { type AppliedObject, type ApplyObject, applyObjects } from "./apply.ts";
import { deleteObjects, listOwned, planPrune } from "./owned.ts";
import { describeObject } from "./ownership.ts";
import { type Readiness, waitForReady, waitsForReady } from "./readiness.ts";

export interface DeployOptions {
  platform: string;
  /** The rendered objects. */
  objects: readonly ApplyObject[];
  /** Secrets to apply too (`--secrets DIR`); when given, owned Secrets not among them are pruned. */
  secrets?: readonly ApplyObject[];
  dryRun?: boolean;
  /** Remove owned objects the render no longer has (default true). */
  prune?: boolean;
  /** Wait for readiness (default true; never on a dry run). */
  wait?: boolean;
  timeoutMs?: number;
  /** How long a Ready=False may last before the deploy fails on it (see WaitOptions.falseGraceMs). */
  falseGraceMs?: number;
  intervalMs?: number;
  onApplied?: (result: AppliedObject) => void;
  onPruned?: (object: string) => void;
  onProgress?: (ready: number, total: number, pending: { object: string; readiness: Readiness }[]) => void;
}

export interface PublicUrl {
  service: string;
  url: string;
}

export interface DeployReport {
  applied: AppliedObject[];
  pruned: string[];
  /** Namespaces this platform created that the config no longer renders: left in place. */
  keptNamespaces: string[];
  /** Public ksvcs' URLs (with the paths they serve: channel webhooks, the gateway API), once Ready. */
  urls: PublicUrl[];
}

export async function deploy(api: KubernetesObjectApi, options: DeployOptions): Promise<DeployReport> {
  const desired = [...options.objects, ...(options.secrets ?? [])];
  const applied = await applyObjects(api, desired, {
    platform: options.platform,
    dryRun: options.dryRun === true,
    ...(options.onApplied ? { onApplied: options.onApplied } : {}),
  });
  let pruned: string[] = [];
  let keptNamespaces: string[] = [];
  if (options.prune !== false) {
    const plan = planPrune(await listOwned(api, options.platform), desired, {
      secretsGiven: options.secrets !== undefined,
    });
    keptNamespaces = plan.keptNamespaces;
    pruned = await deleteObjects(api, plan.stale, {
      dryRun: options.dryRun === true,
      ...(options.onPruned ? { onDeleted: options.onPruned } : {}),
    });
  }
  let urls: PublicUrl[] = [];
  if (!options.dryRun && options.wait !== false) {
    const live = await waitForReady(api, options.objects.filter(waitsForReady), {
      timeoutMs: options.timeoutMs ?? 300_000,
      ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
      ...(options.falseGraceMs !== undefined ? { falseGraceMs: options.falseGraceMs } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    urls = publicUrls(live);
  }
  return { applied, pruned, keptNamespaces, urls };
}

/** The URLs of the ksvcs reachable from outside, each with the paths it serves there. */
export function publicUrls(live: readonly KubernetesObject[]): PublicUrl[] {
  const out: PublicUrl[] = [];
  for (const object of live) {
    if (object.kind !== "Service" || !object.apiVersion?.startsWith("serving.knative.dev/")) continue;
    if (object.metadata?.labels?.[LABEL_VISIBILITY] === "cluster-local") continue;
    const url = (object as { status?: { url?: string } }).status?.url;
    if (url === undefined) continue;
    const prefixes = object.metadata?.annotations?.[ANNOTATION_DEV_PATH_PREFIX]?.split(",") ?? [""];
    for (const prefix of prefixes) out.push({ service: describeObject(object), url: `${url}${prefix}` });
  }
  return out;
}
