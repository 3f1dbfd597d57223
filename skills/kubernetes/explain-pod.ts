import type { CoreV1Event, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { eventSummary, eventTime, stateText } from "./summarize.ts";

/**
 * A `kubectl describe`-like diagnosis of one pod: the reasons it is not ready, most decisive first, each in a
 * sentence an operator would write, backed by the pod's status and its recent warning events.
 */
interface Finding {
  severity: "error" | "warning" | "info";
  what: string;
  detail?: string;
}

export interface PodExplanation {
  pod: string;
  phase: string;
  ready: boolean;
  summary: string;
  findings: Finding[];
  recentWarnings: ReturnType<typeof eventSummary>[];
}

const PULL_FAILURES = new Set([
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "ErrImageNeverPull",
  "RegistryUnavailable",
]);
const CONFIG_FAILURES = new Set(["CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

export function explainPod(pod: V1Pod, events: readonly CoreV1Event[]): PodExplanation {
  const name = pod.metadata?.name ?? "?";
  const phase = pod.status?.phase ?? "Unknown";
  const conditions = pod.status?.conditions ?? [];
  const readyCondition = conditions.find((c) => c.type === "Ready");
  const ready = readyCondition?.status === "True" && !pod.metadata?.deletionTimestamp;
  const warnings = [...events].filter((e) => e.type === "Warning").sort((a, b) => eventTime(b) - eventTime(a));
  const warningMessages = (reason: string) => warnings.filter((e) => e.reason === reason).map((e) => e.message ?? "");
  const findings: Finding[] = [];

  if (pod.metadata?.deletionTimestamp) {
    findings.push({
      severity: "warning",
      what: `the pod is being deleted (since ${new Date(pod.metadata.deletionTimestamp).toISOString()})`,
    });
  }
  if (pod.status?.reason === "Evicted") {
    findings.push({ severity: "error", what: "the pod was evicted by its node", detail: pod.status.message });
  }
  const scheduled = conditions.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") {
    findings.push({
      severity: "error",
      what: `the pod cannot be scheduled${scheduled.reason ? ` (${scheduled.reason})` : ""}`,
      detail: scheduled.message ?? warningMessages("FailedScheduling")[0],
    });
  } else if (phase === "Pending" && !pod.spec?.nodeName && warningMessages("FailedScheduling").length > 0) {
    findings.push({
      severity: "error",
      what: "the pod cannot be scheduled",
      detail: warningMessages("FailedScheduling")[0],
    });
  }

  for (const status of pod.status?.initContainerStatuses ?? []) {
    const done = status.state?.terminated?.exitCode === 0;
    if (done) continue;
    const diagnosis = containerDiagnosis(status, "init container");
    findings.push(
      diagnosis ?? {
        severity: "warning",
        what: `init container ${status.name} has not completed`,
        detail: stateText(status.state),
      },
    );
  }

  for (const status of pod.status?.containerStatuses ?? []) {
    const diagnosis = containerDiagnosis(status, "container");
    if (diagnosis) {
      findings.push(diagnosis);
      continue;
    }
    if (status.state?.running && !status.ready) {
      const probe = warningMessages("Unhealthy").find((m) => /readiness/i.test(m)) ?? warningMessages("Unhealthy")[0];
      findings.push({
        severity: "error",
        what: `container ${status.name} is running but not ready${probe ? ": its readiness probe fails" : ""}`,
        detail: probe,
      });
    }
    if (status.lastState?.terminated?.reason === "OOMKilled" && !status.state?.waiting) {
      findings.push({
        severity: "warning",
        what: `container ${status.name} was OOM-killed before (exceeded its memory limit); restarts: ${status.restartCount}`,
      });
    }
  }

  const mountFailures = [...warningMessages("FailedMount"), ...warningMessages("FailedAttachVolume")];
  if (mountFailures.length > 0)
    findings.push({ severity: "error", what: "a volume cannot be mounted", detail: mountFailures[0] });

  if (!ready && findings.length === 0 && readyCondition?.status !== "True") {
    findings.push({
      severity: phase === "Succeeded" ? "info" : "warning",
      what:
        phase === "Succeeded"
          ? "the pod ran to completion; completed pods are never ready"
          : `the pod is not ready${readyCondition?.reason ? ` (${readyCondition.reason})` : ""}`,
      detail: readyCondition?.message,
    });
  }

  const first = findings.find((f) => f.severity === "error") ?? findings[0];
  return {
    pod: name,
    phase,
    ready,
    summary: ready && findings.length === 0 ? "the pod is running and ready" : (first?.what ?? "the pod is not ready"),
    findings,
    recentWarnings: warnings.slice(0, 5).map(eventSummary),
  };
}

function containerDiagnosis(status: V1ContainerStatus, role: string): Finding | undefined {
  const waiting = status.state?.waiting;
  const reason = waiting?.reason ?? "";
  if (PULL_FAILURES.has(reason)) {
    return {
      severity: "error",
      what: `${role} ${status.name} cannot pull its image ${status.image} (${reason})`,
      detail: waiting?.message,
    };
  }
  if (reason === "CrashLoopBackOff") {
    const last = status.lastState?.terminated;
    const lastExit = last ? `last exit: ${last.reason ?? "Error"}, exit code ${last.exitCode}` : undefined;
    return {
      severity: "error",
      what: `${role} ${status.name} keeps crashing (CrashLoopBackOff, ${status.restartCount} restarts)${last?.reason === "OOMKilled" ? ": it is killed for exceeding its memory limit" : ""}`,
      detail: [lastExit, last?.message].filter(Boolean).join("; ") || waiting?.message,
    };
  }
  if (CONFIG_FAILURES.has(reason)) {
    return {
      severity: "error",
      what: `${role} ${status.name} cannot be created (${reason})`,
      detail: waiting?.message,
    };
  }
  if (reason === "ContainerCreating" || reason === "PodInitializing") {
    return { severity: "info", what: `${role} ${status.name} is still being created`, detail: waiting?.message };
  }
  const terminated = status.state?.terminated;
  if (terminated && terminated.exitCode !== 0) {
    return {
      severity: "error",
      what: `${role} ${status.name} exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`,
      detail: terminated.message,
    };
  }
  return undefined;
}
