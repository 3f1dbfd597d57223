import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { deadletterEnv } from "./env.ts";

/**
 * The deadletter function's settings, from its container environment (functions/deadletter/env.ts declares it); the
 * memory service is required: dead letters live there. `sink` (K_SINK, from a SinkBinding) is where replays go.
 */
export type DeadLetterConfig = ReturnType<typeof loadDeadLetterConfig>;

export function loadDeadLetterConfig(env: FunctionEnv) {
  const memory = memoryClientSettings(env);
  return { ...deadletterEnv.parse(env), memoryUrl: memory.baseUrl, memoryToken: memory.token };
}
