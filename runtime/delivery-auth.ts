import type { MiddlewareHandler } from "hono";
import { ApiError } from "./api-error.ts";
import { bearer } from "./bearer.ts";
import { EnvError } from "./env-contract.ts";
import type { FunctionEnv } from "./function.ts";
import type { Logger } from "./log.ts";
import { keyFetch } from "./oidc/key-fetch.ts";
import { KeySetUnavailable, remoteKeySet } from "./oidc/key-set.ts";
import { createTokenVerifier, TokenRejected } from "./oidc/verifier.ts";
import { platformEnv } from "./platform-env.ts";

/**
 * Who may deliver to a function's `POST /`. With `KNCLAW_DELIVERY_AUDIENCE` set, only a sender presenting an OIDC
 * token for that audience: what Knative Eventing's receivers demand with its `authentication-oidc` feature on
 * (pkg/auth/verifier.go, verifyAuthN), with the same answers: no token, or a token that is not a valid JWT of the
 * issuer for this audience (signature, `iss`, `aud`, `exp`/`nbf`), is a 401. knclaw adds the RFC 6750 challenge
 * Knative leaves out. When the issuer's keys cannot be fetched the answer is 503 with Retry-After, not 401, so an
 * outage of the API server delays deliveries (the broker retries 503) instead of dead-lettering them. The token is
 * never logged or echoed; the refusal's log line names jose's reason code only.
 */

/** A ServiceAccount token is about a kilobyte; larger headers are refused before any parsing. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const REALM = "knative-eventing";

/** The delivery route's check, or undefined when the env names no audience (deliveries need no token). */
export function deliveryAuthentication(env: FunctionEnv, logger?: Logger): MiddlewareHandler | undefined {
  const audience = platformEnv.read(env, "deliveryAudience");
  if (audience === undefined) return undefined;
  const issuer = platformEnv.read(env, "oidcIssuer");
  if (issuer === undefined) {
    throw new EnvError(
      `${platformEnv.names.oidcIssuer} must be set with ${platformEnv.names.deliveryAudience}: the issuer of the tokens to accept`,
    );
  }
  const keys = remoteKeySet({
    issuer,
    jwksUrl: platformEnv.read(env, "oidcJwksUrl"),
    fetch: keyFetch({
      tokenFile: platformEnv.read(env, "oidcJwksTokenFile"),
      caFile: platformEnv.read(env, "oidcJwksCaFile"),
      serviceHost: env.KUBERNETES_SERVICE_HOST,
      servicePort: env.KUBERNETES_SERVICE_PORT,
    }),
  });
  const verifier = createTokenVerifier({ issuer, keys });
  return bearer({
    realm: REALM,
    maxTokenLength: MAX_TOKEN_LENGTH,
    async verify(token) {
      try {
        return await verifier.verify(token, audience);
      } catch (error) {
        if (error instanceof TokenRejected) {
          logger?.warn({ reason: error.reason }, "delivery refused: its token is not valid for this function");
          return undefined;
        }
        if (error instanceof KeySetUnavailable) {
          logger?.warn({ reason: error.message }, "delivery deferred: the token issuer's keys cannot be fetched");
          throw new ApiError(503, "keys_unavailable", "the token issuer's keys cannot be fetched; retry later", {
            retryAfterSeconds: 5,
          });
        }
        throw error;
      }
    },
  }) as MiddlewareHandler;
}
