import { z } from "zod";
import { InstanceName } from "../../eventing/catalog/shared.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { jsonEnv } from "../../runtime/json-env.ts";

/**
 * The gateway's settings from its container environment (knative/render/env.ts writes them):
 * - KNCLAW_GATEWAY_TOKENS: token names, comma separated; each token's value in KNCLAW_GATEWAY_TOKEN_<NAME>
 *   (upper snake, `-` as `_`), from a Secret;
 * - KNCLAW_INSTANCES: JSON array of the instances runs may be requested for;
 * - KNCLAW_GATEWAY_RATE_LIMIT: JSON `{"requestsPerMinute": n, "burst": n}` per token (default 120 / 30);
 * - KNCLAW_GATEWAY_CORS_ORIGINS: JSON array of browser origins allowed to call the API (default none: CORS closed);
 * - KNCLAW_GATEWAY_MAX_WAIT_SECONDS: the longest `Prefer: wait` / chat completion wait (default 120).
 */
export interface GatewayConfig {
  tokens: Map<string, string>;
  instances: Set<string>;
  rateLimit: { requestsPerMinute: number; burst: number };
  corsOrigins: Set<string>;
  maxWaitSeconds: number;
}

const RateLimit = z
  .object({
    requestsPerMinute: z.number().int().min(1).max(1_000_000).default(120),
    burst: z.number().int().min(1).max(1_000_000).default(30),
  })
  .strict();

export function tokenVariable(name: string): string {
  return `KNCLAW_GATEWAY_TOKEN_${name.replace(/-/g, "_").toUpperCase()}`;
}

export function loadGatewayConfig(env: FunctionEnv): GatewayConfig {
  const tokens = new Map<string, string>();
  for (const name of (env.KNCLAW_GATEWAY_TOKENS ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean)) {
    const value = env[tokenVariable(name)];
    if (!value) throw new Error(`gateway token ${name}: ${tokenVariable(name)} is not set`);
    if (value.length < 16) throw new Error(`gateway token ${name}: tokens must be at least 16 characters`);
    tokens.set(name, value);
  }
  const instances = z.array(InstanceName).safeParse(jsonEnv(env, "KNCLAW_INSTANCES") ?? []);
  if (!instances.success) throw new Error("KNCLAW_INSTANCES must be a JSON array of instance names");
  const rateLimit = RateLimit.safeParse(jsonEnv(env, "KNCLAW_GATEWAY_RATE_LIMIT") ?? {});
  if (!rateLimit.success) throw new Error("KNCLAW_GATEWAY_RATE_LIMIT is invalid");
  const origins = z.array(z.string().url()).safeParse(jsonEnv(env, "KNCLAW_GATEWAY_CORS_ORIGINS") ?? []);
  if (!origins.success) throw new Error("KNCLAW_GATEWAY_CORS_ORIGINS must be a JSON array of origins");
  const maxWait = Number(env.KNCLAW_GATEWAY_MAX_WAIT_SECONDS ?? 120);
  if (!Number.isInteger(maxWait) || maxWait < 1 || maxWait > 3600) {
    throw new Error("KNCLAW_GATEWAY_MAX_WAIT_SECONDS must be an integer between 1 and 3600");
  }
  return {
    tokens,
    instances: new Set(instances.data),
    rateLimit: rateLimit.data,
    corsOrigins: new Set(origins.data.map((o) => new URL(o).origin)),
    maxWaitSeconds: maxWait,
  };
}
