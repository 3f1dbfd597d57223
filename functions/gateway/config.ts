import type { FunctionEnv } from "../../runtime/function.ts";
import { gatewayEnv, tokenSuffix } from "./env.ts";

/** The gateway's settings, from its container environment (functions/gateway/env.ts declares it). */
export interface GatewayConfig {
  tokens: Map<string, string>;
  instances: Set<string>;
  rateLimit: { requestsPerMinute: number; burst: number };
  corsOrigins: Set<string>;
  maxWaitSeconds: number;
}

export function loadGatewayConfig(env: FunctionEnv): GatewayConfig {
  const settings = gatewayEnv.parse(env);
  const tokens = new Map<string, string>();
  for (const name of settings.tokenNames) tokens.set(name, gatewayEnv.readFamily(env, "token", tokenSuffix(name)));
  return {
    tokens,
    instances: new Set(settings.instances),
    rateLimit: settings.rateLimit,
    corsOrigins: new Set(settings.corsOrigins.map((origin) => new URL(origin).origin)),
    maxWaitSeconds: settings.maxWaitSeconds,
  };
}
