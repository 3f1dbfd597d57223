import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryEnv } from "./env.ts";

/**
 * The memory service's settings, all from its container environment (functions/memory/env.ts declares them), with
 * the backend decided: Redis when asked for or when a Redis URL is given.
 */
export type MemoryConfig = ReturnType<typeof loadConfig>;

export function loadConfig(env: FunctionEnv) {
  const { backend, redisUrl, ...settings } = memoryEnv.parse(env);
  if (backend === "redis" && redisUrl === undefined) {
    throw new EnvError(`${memoryEnv.names.backend}=redis needs ${memoryEnv.names.redisUrl}`);
  }
  const chosen: "redis" | "embedded" = backend ?? (redisUrl ? "redis" : "embedded");
  return { ...settings, backend: chosen, redisUrl };
}
