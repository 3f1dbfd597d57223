import { DeadLetterQueueName } from "../../clients/memory/contract/dead-letters.ts";
import type { FunctionEnv } from "../../runtime/function.ts";

/**
 * The deadletter function's settings, from its container environment (knative/render/env.ts writes them):
 * - KNCLAW_MEMORY_URL, KNCLAW_MEMORY_TOKEN: the memory service and this function's `deadletter`-scoped token;
 * - KNCLAW_DEADLETTER_TOKEN: the operator API's bearer token (≥ 16 characters); without it the API answers 403;
 * - KNCLAW_DEADLETTER_MAX_BODY_BYTES: largest dead letter accepted (default 1 MiB; larger -> 413);
 * - KNCLAW_DEADLETTER_MAX_ENTRIES, KNCLAW_DEADLETTER_MAX_AGE_MS: retention (default 10,000 entries, 7 days);
 * - KNCLAW_DEADLETTER_QUEUE: the memory service's queue name (default `default`);
 * - K_SINK (a SinkBinding sets it): where replays are sent, the broker.
 */
export interface DeadLetterConfig {
  memoryUrl: string;
  memoryToken: string;
  apiToken?: string;
  maxBodyBytes: number;
  maxEntries: number;
  maxAgeMs: number;
  queue: string;
  sink?: string;
}

const MIB = 1_048_576;
const DAY_MS = 86_400_000;
/** Shortest operator token accepted: it guards replay and delete of every failed event. */
export const MIN_TOKEN_LENGTH = 16;

export class DeadLetterConfigError extends Error {
  override readonly name = "DeadLetterConfigError";
}

function integer(env: FunctionEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DeadLetterConfigError(`${name} must be an integer between ${min} and ${max}`);
  }
  return value;
}

export function loadDeadLetterConfig(env: FunctionEnv): DeadLetterConfig {
  const memoryUrl = env.KNCLAW_MEMORY_URL;
  const memoryToken = env.KNCLAW_MEMORY_TOKEN;
  if (!memoryUrl || !memoryToken) {
    throw new DeadLetterConfigError("KNCLAW_MEMORY_URL and KNCLAW_MEMORY_TOKEN must be set (dead letters live there)");
  }
  const apiToken = env.KNCLAW_DEADLETTER_TOKEN || undefined;
  if (apiToken !== undefined && apiToken.length < MIN_TOKEN_LENGTH) {
    throw new DeadLetterConfigError(`KNCLAW_DEADLETTER_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  const queue = env.KNCLAW_DEADLETTER_QUEUE || "default";
  if (!DeadLetterQueueName.safeParse(queue).success) {
    throw new DeadLetterConfigError("KNCLAW_DEADLETTER_QUEUE must be a DNS label");
  }
  return {
    memoryUrl,
    memoryToken,
    ...(apiToken === undefined ? {} : { apiToken }),
    maxBodyBytes: integer(env, "KNCLAW_DEADLETTER_MAX_BODY_BYTES", MIB, 1024, 64 * MIB),
    maxEntries: integer(env, "KNCLAW_DEADLETTER_MAX_ENTRIES", 10_000, 1, 1_000_000),
    maxAgeMs: integer(env, "KNCLAW_DEADLETTER_MAX_AGE_MS", 7 * DAY_MS, 60_000, 366 * DAY_MS),
    queue,
    ...(env.K_SINK ? { sink: env.K_SINK } : {}),
  };
}
