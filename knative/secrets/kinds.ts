/**
 * Which Secret values the platform itself defines, recognized by the container variable a rendered ksvc reads them
 * into (as the functions' env contracts name it): their format is knclaw's own, so knclaw can generate them.
 * Everything else a ksvc references (model API keys, channel credentials, the Redis URL, `secretEnv`) comes from
 * outside and never is.
 */
import { eventKeysVar, eventSigningKeyVar } from "../../eventing/trust/env.ts";
import { agentEnv } from "../../functions/agent/env.ts";
import { deadletterEnv } from "../../functions/deadletter/env.ts";
import { gatewayEnv } from "../../functions/gateway/env.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { platformEnv } from "../../runtime/platform-env.ts";

export type PlatformSecretKind =
  /** The HMAC key every memory token derives from (the memory service's KNCLAW_MEMORY_TOKEN_SECRET). */
  | "memory-token-secret"
  /** One memory client's bearer token, minted from that key for its scope. */
  | "memory-token"
  /** An agent instance's Ed25519 signing key (PKCS#8 PEM): its capability tokens and its events. */
  | "signing-key"
  /** Another producer's Ed25519 event signing key (PKCS#8 PEM), one per role (eventing/trust/roles.ts). */
  | "event-signing-key"
  /** The trust bundle: the public keys of every signing key of the namespace by role, derived from them. */
  | "event-trust-bundle"
  /** A random bearer token of an operator API: the gateway's tokens, the deadletter function's API token. */
  | "api-token"
  /** The in-cluster Redis's password (its StatefulSet's REDIS_PASSWORD; knative/secrets/redis.ts). */
  | "redis-password"
  /** The memory service's URL of the in-cluster Redis, password included: derived from that password. */
  | "redis-url";

export function platformSecretKind(envName: string): PlatformSecretKind | undefined {
  switch (envName) {
    case memoryEnv.names.tokenSecret:
      return "memory-token-secret";
    case platformEnv.names.memoryToken:
      return "memory-token";
    case agentEnv.names.signingKey:
      return "signing-key";
    case eventSigningKeyVar.eventSigningKey.name:
      return "event-signing-key";
    case eventKeysVar.eventKeys.name:
      return "event-trust-bundle";
    case deadletterEnv.names.apiToken:
      return "api-token";
    default:
      return envName.startsWith(gatewayEnv.names.token) ? "api-token" : undefined;
  }
}
