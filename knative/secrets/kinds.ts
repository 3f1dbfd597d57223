/**
 * Which Secret values the platform itself defines, recognized by the container variable a rendered ksvc reads them
 * into (knative/render/env.ts): their format is knclaw's own, so knclaw can generate them. Everything else a ksvc
 * references (model API keys, channel credentials, the Redis URL, `secretEnv`) comes from outside and never is.
 */
import { ENV } from "../../runtime/names.ts";

export type PlatformSecretKind =
  /** The HMAC key every memory token derives from (the memory service's KNCLAW_MEMORY_TOKEN_SECRET). */
  | "memory-token-secret"
  /** One memory client's bearer token, minted from that key for its scope. */
  | "memory-token"
  /** An agent instance's Ed25519 signing key (PKCS#8 PEM) for capability tokens. */
  | "signing-key"
  /** A random bearer token of an operator API: the gateway's tokens, the deadletter function's API token. */
  | "api-token";

export function platformSecretKind(envName: string): PlatformSecretKind | undefined {
  switch (envName) {
    case ENV.memoryTokenSecret:
      return "memory-token-secret";
    case ENV.memoryToken:
      return "memory-token";
    case ENV.signingKey:
      return "signing-key";
    case ENV.deadletterToken:
      return "api-token";
    default:
      return envName.startsWith(ENV.gatewayTokenPrefix) ? "api-token" : undefined;
  }
}
