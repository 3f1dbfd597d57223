/**
 * Readiness as Knative reports it: the `Ready` condition of an object's status, trusted only once the controller has
 * seen the object's current generation (`status.observedGeneration`), since a condition about an older spec says
 * nothing about this one. `False` is a verdict (a revision that cannot start, a Trigger whose subscriber does not
 * resolve); `Unknown` or no condition yet means the controllers are still working.
 */
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { type ApplyObject, DeployError, readLive } from "./apply.ts";
import { describeObject } from "./ownership.ts";

type ReadyState = "True" | "False" | "Unknown";

export interface Readiness {
  state: ReadyState;
  reason?: string;
  message?: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** Kinds whose status carries a Ready condition a deploy waits for. */
export function waitsForReady(object: { apiVersion?: string; kind?: string }): boolean {
  const group = object.apiVersion?.split("/")[0];
  return (
    (group === "eventing.knative.dev" &&
      (object.kind === "Broker" || object.kind === "Trigger" || object.kind === "EventPolicy")) ||
    (group === "serving.knative.dev" && object.kind === "Service")
  );
}

/** Kinds with a Ready condition at all (the ones `knclaw status` reports one for). */
export function hasReadyCondition(object: { apiVersion?: string; kind?: string }): boolean {
  return waitsForReady(object) || object.apiVersion?.split("/")[0] === "sources.knative.dev";
}

export function readiness(object: { metadata?: { generation?: number }; status?: unknown }): Readiness {
  const status = (object as { status?: { observedGeneration?: number; conditions?: Condition[] } }).status;
  const generation = object.metadata?.generation;
  if (generation !== undefined && (status?.observedGeneration ?? 0) < generation) {
    return { state: "Unknown", reason: "NotObserved", message: "the controller has not seen this generation yet" };
  }
  const ready = status?.conditions?.find((c) => c.type === "Ready");
  if (ready === undefined) return { state: "Unknown", reason: "NoCondition", message: "no Ready condition yet" };
  const state: ReadyState = ready.status === "True" || ready.status === "False" ? ready.status : "Unknown";
  return {
    state,
    ...(ready.reason ? { reason: ready.reason } : {}),
    ...(ready.message ? { message: ready.message } : {}),
  };
}

export interface WaitOptions {
  timeoutMs: number;
  /**
   * How long a Ready=False must last before it ends the wait (default 30 s). Controllers report False for passing
   * states too: a Trigger whose new subscriber ksvc has no address yet says "Unable to get the Subscriber's URI" for a
   * few seconds. A False that outlasts this is a verdict.
   */
  falseGraceMs?: number;
  /** Pause between polls of the objects not ready yet. */
  intervalMs?: number;
  onProgress?: (ready: number, total: number, pending: { object: string; readiness: Readiness }[]) => void;
}

/**
 * Poll until every object is Ready. Rejects with a DeployError naming the object and its condition's message as soon
 * as one is Ready=False, or naming every object still not ready when the timeout passes. Resolves with the live
 * objects (their status has the URLs).
 */
export async function waitForReady(
  api: KubernetesObjectApi,
  objects: readonly ApplyObject[],
  options: WaitOptions,
): Promise<KubernetesObject[]> {
  const deadline = Date.now() + options.timeoutMs;
  const grace = options.falseGraceMs ?? 30_000;
  const live = new Map<string, KubernetesObject>();
  /** When each object was first seen Ready=False (in its current run of False). */
  const falseSince = new Map<string, number>();
  let pending = [...objects];
  for (;;) {
    const still: { object: ApplyObject; readiness: Readiness }[] = [];
    for (const object of pending) {
      const name = describeObject(object);
      const current = await readLive(api, object);
      if (current === undefined) throw new DeployError(`${name} is gone`);
      const state = readiness(current);
      if (state.state === "False") {
        const since = falseSince.get(name) ?? Date.now();
        falseSince.set(name, since);
        if (Date.now() - since >= grace) throw new DeployError(notReadyLine(name, state, "failed"));
      } else falseSince.delete(name);
      if (state.state === "True") live.set(name, current);
      else still.push({ object, readiness: state });
    }
    options.onProgress?.(
      objects.length - still.length,
      objects.length,
      still.map((s) => ({ object: describeObject(s.object), readiness: s.readiness })),
    );
    if (still.length === 0) return objects.map((o) => live.get(describeObject(o))!);
    if (Date.now() >= deadline) {
      const lines = still.map((s) => `  ${notReadyLine(describeObject(s.object), s.readiness, "not ready")}`);
      throw new DeployError(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${still.length} object(s) to be Ready:\n${lines.join("\n")}`,
      );
    }
    pending = still.map((s) => s.object);
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 2000, deadline - Date.now())));
  }
}

function notReadyLine(object: string, state: Readiness, verdict: string): string {
  const why = [state.reason, state.message].filter(Boolean).join(": ");
  return `${object} ${verdict} (Ready=${state.state})${why ? `: ${why}` : ""}`;
}
