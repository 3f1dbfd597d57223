import type { MiddlewareHandler } from "hono";
import { ApiError } from "./api-error.ts";
import { bearer } from "./bearer.ts";
import { EnvError } from "./env-contract.ts";
import type { FunctionEnv } from "./function.ts";
import type { Logger } from "./log.ts";
import { keyFetch } from "./oidc/key-fetch.ts";
import { KeySetUnavailable, remoteKeySet } from "./oidc/key-set.ts";
import {
  createTokenVerifier,
  MAX_TOKEN_LENGTH,
  TOKEN_REALM,
  TokenRejected,
  type VerifiedToken,
} from "./oidc/verifier.ts";
import { platformEnv } from "./platform-env.ts";

/**
 * Who may deliver to a function's `POST /`. With `KNCLAW_DELIVERY_AUDIENCE` set, only a sender presenting an OIDC
 * token for that audience: what Knative Eventing's receivers demand with its `authentication-oidc` feature on
 * (pkg/auth/verifier.go, verifyAuthN), with the same answers: no token, or a token that is not a valid JWT of the
 * issuer for this audience (signature, `iss`, `aud`, `exp`/`nbf`), is a 401. knclaw adds the RFC 6750 challenge
 * Knative leaves out. With `KNCLAW_DELIVERY_SENDERS` set, the token must also be one of those identities' (the
 * Triggers that deliver here), as Knative's broker-filter checks its sender (pkg/auth VerifyRequestFromSubject): a
 * valid token of anyone else — any workload can ask the API server for a token with this audience — is a 403.
 * When the issuer's keys cannot be fetched the answer is 503 with Retry-After, not 401, so an
 * outage of the API server delays deliveries (the broker retries 503) instead of dead-lettering them. The token is
 * never logged or echoed; the refusal's log line names jose's reason code only.
 */

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
  const senders = allowedSenders(platformEnv.read(env, "deliverySenders"));
  return bearer({
    realm: TOKEN_REALM,
    maxTokenLength: MAX_TOKEN_LENGTH,
    async verify(token) {
      let verified: VerifiedToken;
      try {
        verified = await verifier.verify(token, audience);
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
      if (senders !== undefined && !senders.has(verified.subject)) {
        // A ServiceAccount name, not a secret: the operator needs it to see which Trigger or workload was refused.
        logger?.warn({ sender: verified.subject }, "delivery refused: its sender does not deliver to this function");
        throw new ApiError(403, "sender_not_allowed", "the token's subject may not deliver to this function");
      }
      return verified;
    },
  }) as MiddlewareHandler;
}

/** The comma-separated identities, or undefined when none are named (any sender with a valid token). */
function allowedSenders(list: string | undefined): ReadonlySet<string> | undefined {
  if (list === undefined) return undefined;
  const senders = new Set(
    list
      .split(",")
      .map((sender) => sender.trim())
      .filter((sender) => sender !== ""),
  );
  if (senders.size === 0) {
    throw new EnvError(`${platformEnv.names.deliverySenders} names no sender: no delivery could ever be taken`);
  }
  return senders;
}
