import { type EventFilter, matchAll, readAttributeMap } from "./types.ts";

/**
 * `spec.filter.attributes` (pkg/eventfilter/attributes): every key must be present on the event; a non-empty value
 * must equal the event's value exactly (case-sensitive); an empty value means "present with any non-empty value".
 * All keys must hold.
 */
export function compileAttributesFilter(attributes: unknown, path = "spec.filter.attributes"): EventFilter {
  if (attributes === undefined || attributes === null) return matchAll;
  const entries = readAttributeMap(attributes, path);
  if (entries.length === 0) return matchAll;
  return (event) => {
    for (const [name, expected] of entries) {
      const actual = event[name];
      if (actual === undefined || actual === "") return false;
      if (expected !== "" && actual !== expected) return false;
    }
    return true;
  };
}
