/**
 * Config errors name the place and the rule: `instances.ops.schedules[0].schedule: cron-syntax: ...`.
 * Every problem in a config is reported at once, so a user fixes a file in one pass.
 */

export type PathSegment = string | number;

export interface ConfigIssue {
  /** Dotted/indexed path into the config, e.g. `instances.ops.schedules[0].schedule`; empty for the whole file. */
  path: string;
  /** Short machine-readable name of the rule broken, e.g. `cron-syntax`, `unknown-key`, `secret-ref`. */
  rule: string;
  /** Human readable explanation. */
  message: string;
  /** 1-based position in the YAML source, when known. */
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  readonly source: string | undefined;

  constructor(issues: readonly ConfigIssue[], source?: string) {
    super(formatIssues(issues, source));
    this.name = "ConfigError";
    this.issues = issues;
    this.source = source;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `["instances", "ops", "schedules", 0, "schedule"]` -> `instances.ops.schedules[0].schedule`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (IDENTIFIER.test(segment) || /^[a-z0-9][a-z0-9-]*$/.test(segment))
      out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function formatIssue(issue: ConfigIssue, source?: string): string {
  const where = [
    source,
    issue.line !== undefined ? `${issue.line}${issue.column !== undefined ? `:${issue.column}` : ""}` : undefined,
  ]
    .filter(Boolean)
    .join(":");
  const path = issue.path === "" ? "(config)" : issue.path;
  return `${where ? `${where}: ` : ""}${path}: ${issue.rule}: ${issue.message}`;
}

function formatIssues(issues: readonly ConfigIssue[], source?: string): string {
  const head = `invalid knclaw config${source ? ` ${source}` : ""} (${issues.length} problem${issues.length === 1 ? "" : "s"})`;
  return [head, ...issues.map((issue) => `  - ${formatIssue(issue)}`)].join("\n");
}
