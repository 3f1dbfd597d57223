import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { deadletterEnv } from "./env.ts";

export function loadDeadLetterConfig(env: FunctionEnv) {
  const memory = memoryClientSettings(env);
  return { ...deadletterEnv.parse(env), memoryUrl: memory.baseUrl, memoryToken: memory.token };
}
