import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { deadletterEnv } from "./env.ts";

/** The deadletter function's settings, from its container environment (functions/deadletter/env.ts declares it). */
export interface DeadLetterConfig {
  memoryUrl: string;
  memoryToken: string;
  apiToken?: string;
  maxBodyBytes: number;
  maxEntries: number;
  maxAgeMs: number;
  queue: string;
  /** Where replays are sent, the broker (a SinkBinding sets K_SINK). */
  sink?: string;
}

export function loadDeadLetterConfig(env: FunctionEnv): DeadLetterConfig {
  // Dead letters live in the memory service: without it there is nothing to keep them in.
  const memory = memoryClientSettings(env);
  const settings = deadletterEnv.parse(env);
  return {
    memoryUrl: memory.baseUrl,
    memoryToken: memory.token,
    ...(settings.apiToken === undefined ? {} : { apiToken: settings.apiToken }),
    maxBodyBytes: settings.maxBodyBytes,
    maxEntries: settings.maxEntries,
    maxAgeMs: settings.maxAgeMs,
    queue: settings.queue,
    ...(settings.sink === undefined ? {} : { sink: settings.sink }),
  };
}
