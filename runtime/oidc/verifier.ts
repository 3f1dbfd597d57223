import { errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { KeySetUnavailable } from "./key-set.ts";

/**
 * OIDC token verification as Knative Eventing does it for its receivers (pkg/auth/verifier.go, verifyJWT through
 * go-oidc): the token must be a JWS signed by one of the issuer's keys, carry the issuer as `iss`, the audience among
 * `aud`, and be within `exp` (and `nbf`, when present). knclaw pins the algorithms to those Kubernetes signs
 * ServiceAccount tokens with (RSA or ECDSA, as knclaw dev does with ES256): `none` and the HMAC algorithms, whose "key"
 * would be public, never verify anything.
 */
const TOKEN_ALGORITHMS = ["RS256", "ES256", "ES384", "ES512"];

/** A ServiceAccount token is about a kilobyte; a longer header is not taken for a token, nor parsed. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** The realm of the Bearer challenge every refusal for want of a valid delivery token carries (RFC 6750 §3). */
export const TOKEN_REALM = "knative-eventing";

/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
const CLOCK_LEEWAY_SECONDS = 5;

export interface VerifiedToken {
  /** `sub`: for a ServiceAccount, `system:serviceaccount:<namespace>:<name>`. */
  subject: string;
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
}

/** The token does not prove anything for this audience; `reason` is jose's code, never anything from the token. */
export class TokenRejected extends Error {
  override readonly name = "TokenRejected";
  readonly reason: string;
  constructor(reason: string) {
    super(`token rejected: ${reason}`);
    this.reason = reason;
  }
}

export interface TokenVerifier {
  /** Throws TokenRejected (answer 401) or KeySetUnavailable (answer 503: try again later). */
  verify(token: string, audience: string): Promise<VerifiedToken>;
}

/**
 * Tokens already verified, by audience and exact text, for at most five minutes and never past their `exp`: a broker
 * presents the same token with every delivery until it renews it (Knative caches each for about an hour), and a
 * signature check per delivery would cost more than the delivery itself. A key the issuer withdraws stops verifying
 * new tokens at once (and cached ones within five minutes, less than the ten minutes the key set itself is kept).
 * Only successes are kept, so a flood of forged tokens fills nothing.
 */
const CACHE_MS = 5 * 60_000;
const CACHE_ENTRIES = 1024;

export function createTokenVerifier(options: { issuer: string; keys: JWTVerifyGetKey }): TokenVerifier {
  const verified = new Map<string, { token: VerifiedToken; until: number }>();
  return {
    async verify(token, audience) {
      const key = `${audience}\u0000${token}`;
      const now = Date.now();
      const cached = verified.get(key);
      if (cached !== undefined) {
        if (now < cached.until) return cached.token;
        verified.delete(key);
      }
      let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
      try {
        ({ payload } = await jwtVerify(token, options.keys, {
          issuer: options.issuer,
          audience,
          algorithms: TOKEN_ALGORITHMS,
          clockTolerance: CLOCK_LEEWAY_SECONDS,
          requiredClaims: ["exp", "sub"],
        }));
      } catch (error) {
        if (error instanceof KeySetUnavailable) throw error;
        if (error instanceof errors.JOSEError) throw new TokenRejected(error.code);
        throw error;
      }
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new TokenRejected("ERR_JWT_CLAIM_VALIDATION_FAILED");
      }
      const result = { subject: payload.sub, expiresAt: payload.exp! };
      // Oldest first out: a Map iterates in insertion order.
      if (verified.size >= CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
      verified.set(key, { token: result, until: Math.min(now + CACHE_MS, result.expiresAt * 1000) });
      return result;
    },
  };
}
