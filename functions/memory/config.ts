import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryEnv } from "./env.ts";

/** The memory service's settings, all from its container environment (functions/memory/env.ts declares it). */
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

export function loadConfig(env: FunctionEnv): MemoryConfig {
  const { backend, redisUrl, redisKeyPrefix, ...settings } = memoryEnv.parse(env);
  if (backend === "redis" && redisUrl === undefined) {
    throw new EnvError(`${memoryEnv.names.backend}=redis needs ${memoryEnv.names.redisUrl}`);
  }
  return {
    backend: backend ?? (redisUrl ? "redis" : "embedded"),
    redisUrl,
    redisCluster: settings.redisCluster,
    tokenSecret: settings.tokenSecret,
    operatorToken: settings.operatorToken,
    keyPrefix: redisKeyPrefix,
    redisTimeoutMs: settings.redisTimeoutMs,
    maxBodyBytes: settings.maxBodyBytes,
    deadLetterMaxBodyBytes: settings.deadLetterMaxBodyBytes,
    runRetentionMs: settings.runRetentionMs,
    maxNotesPerOwner: settings.maxNotesPerOwner,
    auditMaxLength: settings.auditMaxLength,
    maxPendingPairings: settings.maxPendingPairings,
  };
}
