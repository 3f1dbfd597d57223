import type { FunctionEnv } from "./function.ts";

/**
 * A structured setting the renderer passes as JSON in one variable (policies, routes, hooks, keys): undefined when it
 * is unset or blank, the parsed value otherwise. The error names the variable only, never its content, which may hold
 * secrets.
 */
export function jsonEnv(env: FunctionEnv, name: string): unknown {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
}
