/**
 * JSON Merge Patch (RFC 7386), which is also what a strategic merge patch does for the maps-only patches the
 * kubernetes skill sends (scale, rollout restart, cordon). The fake does not implement strategic merge's list
 * semantics (`$patch`, merge keys): a strategic patch with a list in it is refused with 415 rather than guessed at.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

export function containsList(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  if (value !== null && typeof value === "object") return Object.values(value).some(containsList);
  return false;
}
