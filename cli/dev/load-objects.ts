import type { Log } from "../../eventing/broker/log.ts";
import { type KnativeObject, namespaceOf, ObjectError } from "../../eventing/broker/objects.ts";
import {
  formatProblem,
  isRunKind,
  loadManifestDir,
  ManifestError,
  type Problem,
  validateObjects,
} from "../../knative/validate/index.ts";
import { type DevObjects, groupObjectsByKind } from "./objects.ts";
import { checkReadiness, type NotReadyObject } from "./readiness.ts";
import { EMPTY_SERVICE_MAP, type ServiceCommands, type ServiceMap } from "./service-map.ts";

const ENTRY_ANNOTATION = "knclaw.dev/entry";

/** Objects that would not be accepted by a cluster: every problem names the object, the field and the rule. */
export class InvalidObjectsError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(
      `refusing to start: ${problems.length} invalid object${problems.length === 1 ? "" : "s"}\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`,
    );
    this.name = "InvalidObjectsError";
    this.problems = problems;
  }
}

export interface DevObjectsOptions {
  /** Eventing's authentication-oidc feature (knclaw dev emulates it): its webhook refuses EventPolicies without it. */
  authenticationOidc: boolean;
  /** Eventing's cross-namespace-event-links feature; a `knative-eventing/config-features` ConfigMap among the manifests can turn it on. */
  crossNamespaceEventLinks?: boolean;
  /** `--service NAME=URL`: Services that answer elsewhere. */
  services?: ServiceMap;
  /** `--run NAME=COMMAND`: Services started from a local command; each must be among the objects. */
  commands?: ServiceCommands;
}

/** What knclaw dev would run from a set of objects, and what it would not, with why. */
export interface DevObjectsReport {
  /** The objects that act: every one admitted and Ready. */
  objects: DevObjects;
  /** Admitted, but a reference does not resolve here: kept and listed, doing nothing (as on a cluster). */
  notReady: NotReadyObject[];
  /** Manifest objects of kinds knclaw dev does not run (RBAC, Deployments, other sources...), as `Kind [ns/]name`. */
  notRun: string[];
  /** Every problem found: errors refuse the set, warnings are reported. */
  problems: Problem[];
}

/**
 * The rendered objects plus `--manifests`, checked as a cluster would: Knative's webhook rules on every object (an
 * error refuses the whole set, as `kubectl apply` would refuse the object), reference checks on the rendered platform
 * (a dangling reference there is a renderer bug), and the manifests' references as readiness (checkReadiness).
 * `knclaw dev` and `knclaw validate --manifests` both come here, so they accept and refuse the same things.
 */
export function checkDevObjects(
  objects: readonly KnativeObject[],
  manifestsDir: string | undefined,
  options: DevObjectsOptions,
): DevObjectsReport {
  const { authenticationOidc } = options;
  const problems = validateObjects(objects, { checkReferences: true, authenticationOidc });
  let extra: KnativeObject[] = [];
  let crossNamespaceEventLinks = options.crossNamespaceEventLinks ?? false;
  if (manifestsDir !== undefined) {
    try {
      const loaded = loadManifestDir(manifestsDir, {
        authenticationOidc,
        ...(options.crossNamespaceEventLinks !== undefined ? { crossNamespaceEventLinks } : {}),
      });
      extra = loaded.objects as unknown as KnativeObject[];
      problems.push(...loaded.warnings);
      crossNamespaceEventLinks = loaded.webhook.crossNamespaceEventLinks;
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      problems.push(...error.problems);
    }
  }
  const notRun = extra
    .filter((o) => !isRunKind(o.apiVersion, o.kind))
    .map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`);
  let grouped: DevObjects;
  try {
    grouped = groupObjectsByKind([...objects, ...extra]);
  } catch (error) {
    if (!(error instanceof ObjectError)) throw error;
    problems.push({
      severity: "error",
      object: error.object,
      path: error.path,
      rule: error.rule,
      message: error.reason,
    });
    grouped = groupObjectsByKind([]);
  }
  const services = options.services ?? EMPTY_SERVICE_MAP;
  const commands = options.commands ?? EMPTY_SERVICE_MAP;
  problems.push(...checkCommands(grouped, services, commands));
  const { ready, notReady } = checkReadiness(grouped, { services, commands, crossNamespaceEventLinks });
  return { objects: ready, notReady, notRun, problems };
}

/**
 * Each `--run` names a Knative Service of the objects (its env comes from there) that nothing else runs or maps, and
 * no `--service` maps a Service that runs here (the mapping would never be used: deliveries go to what runs).
 */
function checkCommands(objects: DevObjects, services: ServiceMap, commands: ServiceCommands): Problem[] {
  const problems: Problem[] = [];
  const named = (entry: { namespace?: string; name: string }) =>
    objects.services.filter(
      (service) =>
        service.metadata.name === entry.name &&
        (entry.namespace === undefined || namespaceOf(service) === entry.namespace),
    );
  const hasEntry = (service: KnativeObject) => typeof service.metadata.annotations?.[ENTRY_ANNOTATION] === "string";
  const targetOf = (entry: { namespace?: string; name: string }) =>
    `${entry.namespace ? `${entry.namespace}/` : ""}${entry.name}`;
  const problem = (target: string, rule: string, message: string) =>
    problems.push({ severity: "error", object: `Service/${target}`, path: "", rule, message });
  for (const entry of commands.entries) {
    const target = targetOf(entry);
    const found = named(entry);
    if (found.length === 0)
      problem(target, "run-command", `--run ${target}: no Knative Service ${target} is among the objects`);
    for (const service of found) {
      if (services.lookup(namespaceOf(service), entry.name) !== undefined)
        problem(target, "run-command", `--run ${target}: the Service is also given a URL with --service`);
      if (hasEntry(service))
        problem(target, "run-command", `--run ${target}: the Service already runs from its ${ENTRY_ANNOTATION}`);
    }
  }
  for (const entry of services.entries) {
    const target = targetOf(entry);
    if (named(entry).some(hasEntry)) {
      problem(target, "service-url", `--service ${target}: the Service already runs here from its ${ENTRY_ANNOTATION}`);
    }
  }
  return problems;
}

/** checkDevObjects for a start: errors refuse it, warnings and objects not Ready are logged. */
export function loadDevObjects(
  objects: readonly KnativeObject[],
  manifestsDir: string | undefined,
  log: Log,
  options: DevObjectsOptions,
): DevObjectsReport {
  const report = checkDevObjects(objects, manifestsDir, options);
  const errors = report.problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new InvalidObjectsError(errors);
  for (const warning of report.problems) log.warn({ problem: formatProblem(warning) }, "object warning");
  for (const object of report.notReady) {
    log.warn(
      { object: object.object, condition: object.condition, reason: object.reason, message: object.message },
      `not Ready: ${object.condition}=False`,
    );
  }
  return report;
}
