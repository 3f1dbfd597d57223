import { compileCesql, matchesCesql } from "./cesql/index.ts";
import { type EventFilter, FilterError, matchAll, readAttributeMap } from "./types.ts";

/**
 * `spec.filters`: the CloudEvents Subscriptions API dialects as Knative implements them
 * (pkg/eventfilter/subscriptionsapi). Items are ANDed; each item holds exactly one dialect. Everything is compiled
 * once, when the Trigger loads, so a broken filter is refused up front instead of silently matching nothing.
 */
const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not", "cesql"] as const;
type Dialect = (typeof DIALECTS)[number];

export function compileSubscriptionsApiFilters(filters: unknown, path = "spec.filters"): EventFilter {
  if (filters === undefined || filters === null) return matchAll;
  return allOf(compileList(filters, path, "filters"));
}

function compileList(value: unknown, path: string, what: string): EventFilter[] {
  if (!Array.isArray(value)) throw new FilterError(path, "filter-list", `${what} must be a list of filters`);
  return value.map((item, index) => compileFilter(item, `${path}[${index}]`));
}

function compileFilter(value: unknown, path: string): EventFilter {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FilterError(path, "filter-object", "must be a filter object with exactly one dialect");
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(DIALECTS as readonly string[]).includes(key)) {
      throw new FilterError(
        path,
        "filter-dialect",
        `unknown dialect ${JSON.stringify(key)} (expected one of ${DIALECTS.join(", ")})`,
      );
    }
  }
  // Knative counts a dialect as set only when it is non-empty (an empty map, list or expression is "not set"), and
  // a filter with none set is no filter at all: materializeSubscriptionsAPIFilter returns nil and it passes.
  const keys = DIALECTS.filter((dialect) => isSet(dialect, record[dialect]));
  if (keys.length > 1) {
    throw new FilterError(
      path,
      "filter-one-dialect",
      `a filter must use exactly one dialect, found ${keys.join(" and ")}`,
    );
  }
  if (keys.length === 0) return matchAll;
  const dialect = keys[0] as Dialect;
  const body = record[dialect];
  const where = `${path}.${dialect}`;
  switch (dialect) {
    case "exact":
      return stringMatch(body, where, (actual, expected) => actual === expected);
    case "prefix":
      return stringMatch(body, where, (actual, expected) => actual.startsWith(expected));
    case "suffix":
      return stringMatch(body, where, (actual, expected) => actual.endsWith(expected));
    case "all": {
      const list = compileList(body, where, "all");
      return allOf(list);
    }
    case "any": {
      const list = compileList(body, where, "any");
      return (event) => list.some((filter) => filter(event));
    }
    case "not": {
      const inner = compileFilter(body, where);
      return (event) => !inner(event);
    }
    case "cesql":
      return cesqlFilter(body, where);
  }
}

function isSet(dialect: Dialect, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (dialect === "cesql") return value !== "";
  if (dialect === "not") return true;
  if (Array.isArray(value)) return value.length > 0;
  return typeof value !== "object" || Object.keys(value).length > 0;
}

function allOf(filters: EventFilter[]): EventFilter {
  if (filters.length === 0) return matchAll;
  if (filters.length === 1) return filters[0]!;
  return (event) => filters.every((filter) => filter(event));
}

/**
 * exact/prefix/suffix: every key must hold and an attribute absent from the event fails. (Knative's webhook allows
 * one key per map; knative/validate refuses more before a Trigger gets here, and a map that did get here is ANDed.) Knative skips a key whose
 * value is the empty string (subscriptionsapi.NewExactFilter et al. treat "" as "no constraint"), so it passes.
 */
function stringMatch(body: unknown, path: string, test: (actual: string, expected: string) => boolean): EventFilter {
  const entries = readAttributeMap(body, path);
  return (event) => {
    for (const [name, expected] of entries) {
      if (expected === "") continue;
      const actual = event[name];
      if (actual === undefined || !test(actual, expected)) return false;
    }
    return true;
  };
}

/** A CESQL expression is parsed at load; an evaluation error (or a non-boolean result) counts as "does not match". */
function cesqlFilter(body: unknown, path: string): EventFilter {
  if (typeof body !== "string")
    throw new FilterError(path, "cesql-expression", "must be a string holding a CESQL expression");
  let compiled: ReturnType<typeof compileCesql>;
  try {
    compiled = compileCesql(body);
  } catch (error) {
    throw new FilterError(path, "cesql-parse", error instanceof Error ? error.message : String(error));
  }
  return (event) => {
    try {
      return matchesCesql(compiled, event) === true;
    } catch {
      return false;
    }
  };
}
