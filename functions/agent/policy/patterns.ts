/**
 * Tool patterns in policies: `<skill>.<tool>`, `<skill>.*`, `*`, or a group such as `k8s:read` (a tool belongs to
 * the groups its skill manifest or the instance's group table give it). Matching is exact, case-sensitive, no globs
 * beyond those forms: a pattern never matches more than it plainly says.
 */
export interface ToolRef {
  skill: string;
  tool: string;
  groups: readonly string[];
}

export function matchesPattern(pattern: string, ref: ToolRef): boolean {
  if (pattern === "*") return true;
  if (pattern.includes(":")) return ref.groups.includes(pattern);
  const dot = pattern.indexOf(".");
  if (dot < 0) return false;
  const skill = pattern.slice(0, dot);
  const tool = pattern.slice(dot + 1);
  return skill === ref.skill && (tool === "*" || tool === ref.tool);
}

export function matchesAny(patterns: readonly string[] | undefined, ref: ToolRef): boolean {
  return (patterns ?? []).some((pattern) => matchesPattern(pattern, ref));
}
