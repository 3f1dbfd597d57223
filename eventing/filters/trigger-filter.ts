import { compileAttributesFilter } from "./attributes.ts";
import { compileSubscriptionsApiFilters } from "./subscriptions-api.ts";
import { type EventFilter, FilterError, matchAll } from "./types.ts";

export interface TriggerFilterSpec {
  filter?: { attributes?: unknown } | null;
  filters?: unknown;
}

/**
 * The filter of one Trigger: `spec.filters` (Subscriptions API), when non-empty, replaces `spec.filter` entirely, as
 * the broker filter handler chooses (filterEvent in pkg/broker/filter/filter_handler.go). No filter matches everything.
 * Both are compiled and validated even when only one is used, so a typo never hides behind the other.
 */
export function compileTriggerFilter(spec: TriggerFilterSpec): EventFilter {
  const filter = spec.filter;
  if (filter !== undefined && filter !== null && (typeof filter !== "object" || Array.isArray(filter))) {
    throw new FilterError("spec.filter", "filter-object", "must be an object with an attributes map");
  }
  for (const key of Object.keys(filter ?? {})) {
    if (key !== "attributes")
      throw new FilterError("spec.filter", "filter-field", `unknown field ${JSON.stringify(key)}`);
  }
  const attributes = compileAttributesFilter(filter?.attributes);
  const filters = compileSubscriptionsApiFilters(spec.filters);
  if (Array.isArray(spec.filters) && spec.filters.length > 0) return filters;
  return filter ? attributes : matchAll;
}
