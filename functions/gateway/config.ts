import type { FunctionEnv } from "../../runtime/function.ts";
import { gatewayEnv, tokenSuffix } from "./env.ts";

/**
 * The gateway's settings, from its container environment (functions/gateway/env.ts declares it): the contract's
 * values, with the token names resolved to their values and the lists as sets.
 */
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: FunctionEnv) {
  // The event keys are app.ts's concern (signing and verifying), not part of the settings passed around.
  const {
    tokenNames,
    instances,
    corsOrigins,
    eventKeys: _eventKeys,
    eventSigningKey: _eventSigningKey,
    ...settings
  } = gatewayEnv.parse(env);
  const tokens = new Map<string, string>();
  for (const name of tokenNames) tokens.set(name, gatewayEnv.readFamily(env, "token", tokenSuffix(name)));
  return {
    ...settings,
    tokens,
    instances: new Set(instances),
    corsOrigins: new Set(corsOrigins.map((origin) => new URL(origin).origin)),
  };
}
