/**
 * A compiled Trigger filter: a predicate over an event's context attributes in their canonical string form
 * (what binary mode carries in `ce-` headers). Filters never see event data: Knative's dialects are attribute-only.
 */
type EventAttributes = Readonly<Record<string, string>>;
export type EventFilter = (attributes: EventAttributes) => boolean;

/** Knative's filter attribute-name rule (pkg/apis/eventing/v1/trigger_validation.go). */
const FILTER_ATTRIBUTE_NAME = /^[a-z][a-z0-9]*$/;

/** A filter that cannot be loaded; `path` points into the Trigger (`spec.filters[1].all[0].exact`). */
export class FilterError extends Error {
  readonly path: string;
  readonly rule: string;
  readonly reason: string;
  constructor(path: string, rule: string, reason: string) {
    super(`${path}: ${rule}: ${reason}`);
    this.name = "FilterError";
    this.path = path;
    this.rule = rule;
    this.reason = reason;
  }
}

export const matchAll: EventFilter = () => true;

/** Reads a `{ attribute: string }` map, checking every key and value, for the attributes filter and exact/prefix/suffix. */
export function readAttributeMap(value: unknown, path: string): Array<[string, string]> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FilterError(path, "filter-map", "must be a map of attribute name to string");
  }
  const entries: Array<[string, string]> = [];
  for (const [name, expected] of Object.entries(value)) {
    if (!FILTER_ATTRIBUTE_NAME.test(name)) {
      throw new FilterError(
        path,
        "filter-attribute-name",
        `invalid attribute name ${JSON.stringify(name)}: must match ^[a-z][a-z0-9]*$`,
      );
    }
    if (typeof expected !== "string") {
      throw new FilterError(`${path}.${name}`, "filter-value", "must be a string");
    }
    entries.push([name, expected]);
  }
  return entries;
}
