import type { Log } from "../../eventing/broker/log.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { formatProblem, loadManifestDir, type Problem, validateObjects } from "../../knative/validate/index.ts";
import { type DevObjects, groupObjectsByKind } from "./objects.ts";

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

/**
 * The rendered objects plus `--manifests`, checked with Knative's webhook rules and reference checks
 * (knative/validate) so a Trigger that would not apply on a cluster does not run here either; warnings are logged.
 */
export function loadDevObjects(
  objects: readonly KnativeObject[],
  manifestsDir: string | undefined,
  log: Log,
  authenticationOidc: boolean,
): DevObjects {
  // With Knative's authentication-oidc emulated (cli/dev/oidc.ts) its webhook takes EventPolicies; without, it refuses them.
  const extra = manifestsDir
    ? (loadManifestDir(manifestsDir, { authenticationOidc }) as unknown as KnativeObject[])
    : [];
  const all = [...objects, ...extra];
  const problems = validateObjects(all, { checkReferences: true, authenticationOidc });
  for (const warning of problems.filter((p) => p.severity === "warning")) {
    log.warn({ problem: formatProblem(warning) }, "object warning");
  }
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new InvalidObjectsError(errors);
  return groupObjectsByKind(all);
}
