import type { CesqlNode } from "../../../../../eventing/filters/cesql/index.ts";

/** A syntax tree without its source spans, to compare trees parsed from differently written sources. */
export function withoutSpans(node: CesqlNode): unknown {
  return JSON.parse(JSON.stringify(node, (key, value) => (key === "start" || key === "end" ? undefined : value)));
}
