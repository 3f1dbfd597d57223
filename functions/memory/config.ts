import { MIN_SECRET_LENGTH } from "../../clients/memory/tokens.ts";
import type { FunctionEnv } from "../../runtime/function.ts";

/** The memory service's settings, all from its container environment (functions/memory/README.md lists them). */
export interface MemoryConfig {
  backend: "redis" | "embedded";
  redisUrl?: string;
  /** KNCLAW_REDIS_URL names a seed node of a Redis Cluster. */
  redisCluster: boolean;
  tokenSecret: string;
  operatorToken?: string;
  keyPrefix: string;
  /** Longest a Redis command may take before the request answers 503. */
  redisTimeoutMs: number;
  maxBodyBytes: number;
  /** Dead letters carry a whole event (data as base64): their store request has its own, larger limit. */
  deadLetterMaxBodyBytes: number;
  runRetentionMs: number;
  maxNotesPerOwner: number;
  auditMaxLength: number;
  maxPendingPairings: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function integer(env: FunctionEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}`);
  }
  return value;
}

export function loadConfig(env: FunctionEnv): MemoryConfig {
  const tokenSecret = env.KNCLAW_MEMORY_TOKEN_SECRET;
  if (!tokenSecret)
    throw new ConfigError("KNCLAW_MEMORY_TOKEN_SECRET is required (the key every bearer token derives from)");
  if (tokenSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`KNCLAW_MEMORY_TOKEN_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const operatorToken = env.KNCLAW_MEMORY_OPERATOR_TOKEN || undefined;
  if (operatorToken !== undefined && operatorToken.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`KNCLAW_MEMORY_OPERATOR_TOKEN must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const redisUrl = env.KNCLAW_REDIS_URL || undefined;
  const requested = env.KNCLAW_MEMORY_BACKEND || undefined;
  if (requested !== undefined && requested !== "redis" && requested !== "embedded") {
    throw new ConfigError("KNCLAW_MEMORY_BACKEND must be 'redis' or 'embedded'");
  }
  if (requested === "redis" && !redisUrl) throw new ConfigError("KNCLAW_MEMORY_BACKEND=redis needs KNCLAW_REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError("KNCLAW_REDIS_URL must start with redis:// or rediss://");
  }
  const keyPrefix = env.KNCLAW_REDIS_KEY_PREFIX ?? "knclaw:";
  if (/[{}\s]/.test(keyPrefix) || keyPrefix.length > 100) {
    throw new ConfigError("KNCLAW_REDIS_KEY_PREFIX must not contain braces or whitespace (at most 100 characters)");
  }
  return {
    backend: requested ?? (redisUrl ? "redis" : "embedded"),
    redisUrl,
    redisCluster: env.KNCLAW_MEMORY_REDIS_CLUSTER === "true",
    tokenSecret,
    operatorToken,
    keyPrefix,
    redisTimeoutMs: integer(env, "KNCLAW_MEMORY_REDIS_TIMEOUT_MS", 750, 50, 60_000),
    maxBodyBytes: integer(env, "KNCLAW_MEMORY_MAX_BODY_BYTES", 1_048_576, 1024, 64 * 1_048_576),
    deadLetterMaxBodyBytes: integer(
      env,
      "KNCLAW_MEMORY_DEADLETTER_MAX_BODY_BYTES",
      2 * 1_048_576,
      1024,
      64 * 1_048_576,
    ),
    runRetentionMs: integer(env, "KNCLAW_MEMORY_RUN_RETENTION_MS", 7 * 86_400_000, 1, 365 * 86_400_000),
    maxNotesPerOwner: integer(env, "KNCLAW_MEMORY_MAX_NOTES_PER_OWNER", 1000, 1, 1_000_000),
    auditMaxLength: integer(env, "KNCLAW_MEMORY_AUDIT_MAX_LENGTH", 100_000, 10, 100_000_000),
    maxPendingPairings: integer(env, "KNCLAW_MEMORY_MAX_PENDING_PAIRINGS", 50, 1, 10_000),
  };
}
