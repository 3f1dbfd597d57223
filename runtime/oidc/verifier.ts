import { errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { KeySetUnavailable } from "./key-set.ts";

/**
 * OIDC token verification as Knative Eventing does it for its receivers (pkg/auth/verifier.go, verifyJWT through
 * go-oidc): the token must be a JWS signed by one of the issuer's keys, carry the issuer as `iss`, the audience among
 * `aud`, and be within `exp` (and `nbf`, when present). knclaw pins the algorithms to those Kubernetes signs
 * ServiceAccount tokens with (RSA or ECDSA, as knclaw dev does with ES256): `none` and the HMAC algorithms, whose "key"
 * would be public, never verify anything.
 */
export const TOKEN_ALGORITHMS = ["RS256", "ES256", "ES384", "ES512"];

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

export function createTokenVerifier(options: { issuer: string; keys: JWTVerifyGetKey }): TokenVerifier {
  return {
    async verify(token, audience) {
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
      if (typeof payload.sub !== "string" || payload.sub === "")
        throw new TokenRejected("ERR_JWT_CLAIM_VALIDATION_FAILED");
      return { subject: payload.sub, expiresAt: payload.exp! };
    },
  };
}
