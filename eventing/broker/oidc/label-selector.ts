import { isRecord } from "../objects.ts";

/**
 * A Kubernetes label selector (metav1.LabelSelector) as `metav1.LabelSelectorAsSelector` reads it: `matchLabels` and
 * `matchExpressions` (In, NotIn, Exists, DoesNotExist) all hold. A selector with neither field selects nothing (a nil
 * selector); one with an empty field selects everything.
 */
export type LabelMatcher = (labels: Readonly<Record<string, string>>) => boolean;

const OPERATORS = new Set(["In", "NotIn", "Exists", "DoesNotExist"]);

/** The matcher, or a reason the selector is invalid. */
export function compileLabelSelector(value: Record<string, unknown>): LabelMatcher | string {
  const { matchLabels, matchExpressions } = value;
  if (matchLabels === undefined && matchExpressions === undefined) return () => false;
  const tests: LabelMatcher[] = [];
  if (matchLabels !== undefined) {
    if (!isRecord(matchLabels)) return "matchLabels must be a map of label to value";
    for (const [key, expected] of Object.entries(matchLabels)) {
      if (typeof expected !== "string") return `matchLabels.${key} must be a string`;
      tests.push((labels) => labels[key] === expected);
    }
  }
  if (matchExpressions !== undefined) {
    if (!Array.isArray(matchExpressions)) return "matchExpressions must be a list";
    for (const [index, expression] of matchExpressions.entries()) {
      const test = compileExpression(expression);
      if (typeof test === "string") return `matchExpressions[${index}]: ${test}`;
      tests.push(test);
    }
  }
  return (labels) => tests.every((test) => test(labels));
}

function compileExpression(expression: unknown): LabelMatcher | string {
  if (!isRecord(expression)) return "must be an object";
  const { key, operator, values } = expression;
  if (typeof key !== "string" || key === "") return "key is required";
  if (typeof operator !== "string" || !OPERATORS.has(operator))
    return `operator must be one of ${[...OPERATORS].join(", ")}`;
  const list = values === undefined || values === null ? [] : values;
  if (!Array.isArray(list) || list.some((item) => typeof item !== "string")) return "values must be a list of strings";
  const set = new Set(list as string[]);
  switch (operator) {
    case "In":
    case "NotIn":
      if (set.size === 0) return `values must be non-empty for ${operator}`;
      return operator === "In"
        ? (labels) => labels[key] !== undefined && set.has(labels[key])
        : (labels) => labels[key] === undefined || !set.has(labels[key]);
    default:
      if (set.size > 0) return `values must be empty for ${operator}`;
      return operator === "Exists" ? (labels) => labels[key] !== undefined : (labels) => labels[key] === undefined;
  }
}
