/**
 * A problem found in a Kubernetes/Knative object: which object, where in it, which rule, and why.
 */

export type Severity = "error" | "warning";

export interface Problem {
  severity: Severity;
  /** `Kind/namespace/name` of the object. */
  object: string;
  /** Field path inside the object, e.g. `spec.filters[0].exact`; empty for the whole object. */
  path: string;
  /** Short rule name, e.g. `trigger-one-dialect`, `cron-syntax`, `schema`. */
  rule: string;
  message: string;
  /** Where the object came from (file, document index), when it was read from YAML. */
  source?: string;
}

export function formatProblem(problem: Problem): string {
  const where = problem.source ? `${problem.source}: ` : "";
  const path = problem.path ? ` ${problem.path}` : "";
  return `${where}${problem.severity}: ${problem.object}${path}: ${problem.rule}: ${problem.message}`;
}

/** Collects problems for one object, with field paths built the way Knative's FieldError prints them. */
export class ProblemSink {
  readonly problems: Problem[] = [];
  private readonly object: string;
  private readonly source: string | undefined;

  constructor(object: string, source?: string) {
    this.object = object;
    this.source = source;
  }

  error(path: string, rule: string, message: string): void {
    this.add("error", path, rule, message);
  }

  warn(path: string, rule: string, message: string): void {
    this.add("warning", path, rule, message);
  }

  private add(severity: Severity, path: string, rule: string, message: string): void {
    this.problems.push({
      severity,
      object: this.object,
      path,
      rule,
      message,
      ...(this.source !== undefined ? { source: this.source } : {}),
    });
  }
}

/** Join field path parts: `join("spec", "filters[0]", "exact")` -> `spec.filters[0].exact`. */
export function join(...parts: (string | undefined)[]): string {
  return parts
    .filter((p) => p !== undefined && p !== "")
    .join(".")
    .replace(/\.\[/g, "[");
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
