import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from "jose";
import { createTokenVerifier, type TokenVerifier } from "../../../runtime/oidc/verifier.ts";

/**
 * The OIDC issuer of the embedded broker, standing in for what a cluster's Kubernetes API server is to Knative
 * Eventing: it publishes a discovery document and its public keys (`/.well-known/openid-configuration`,
 * `/openid/v1/jwks`, the API server's paths) and issues tokens as the TokenRequest API does for Knative's token
 * provider (pkg/auth/token_provider.go): `sub` `system:serviceaccount:<namespace>:<name>`, one audience, valid for an
 * hour. Tokens are ES256 (an ECDSA key, as a cluster may use) with the key's thumbprint as `kid`. `tokenFor` caches
 * them per identity and audience until five minutes before they expire, exactly as Knative's provider does, so every
 * delivery carries a token valid for at least five more minutes without a signature per delivery.
 */
const TOKEN_LIFETIME_SECONDS = 3600;
const RENEW_BEFORE_SECONDS = 300;
const ALGORITHM = "ES256";

/** A new private signing key, as a JWK (`kid`, `alg`, `use` set): what `knclaw dev` keeps in its state directory. */
export async function generateIssuerKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ALGORITHM, use: "sig" };
}

export interface IssuedToken {
  token: string;
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
}

/** A private key ready to sign with, and its public half as published. */
export interface SigningKey {
  key: CryptoKey;
  publicJwk: JWK;
}

/** Import a key from generateIssuerKey; refuses anything but a private P-256 JWK with a `kid`. */
export async function importIssuerKey(privateJwk: JWK): Promise<SigningKey> {
  if (privateJwk.kty !== "EC" || privateJwk.crv !== "P-256" || typeof privateJwk.d !== "string" || !privateJwk.kid) {
    throw new Error("the issuer key must be a private P-256 JWK with a kid");
  }
  const key = (await importJWK(privateJwk, ALGORITHM)) as CryptoKey;
  const { d: _private, ...publicJwk } = privateJwk;
  return { key, publicJwk };
}

export class TokenIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  private readonly signing: SigningKey;
  private readonly now: () => number;
  private readonly cache = new Map<string, IssuedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  /** `issuer` is the URL the discovery document is served under. */
  constructor(issuer: string, signing: SigningKey, now: () => number = Date.now) {
    this.issuer = issuer.replace(/\/+$/, "");
    this.jwksUrl = `${this.issuer}/openid/v1/jwks`;
    this.signing = signing;
    this.now = now;
  }

  /** What `/.well-known/openid-configuration` answers, shaped as the API server's. */
  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUrl,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: [ALGORITHM],
    };
  }

  /** What `/openid/v1/jwks` answers: the public key only. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.signing.publicJwk] };
  }

  /** Verifies this issuer's tokens in process (the ingress), from the same public keys it publishes. */
  verifier(): TokenVerifier {
    return createTokenVerifier({ issuer: this.issuer, keys: createLocalJWKSet(this.jwks()) });
  }

  /** A new token for `subject` and `audience` (several, for a sender that posts to several Brokers). */
  async mint(
    subject: string,
    audience: string | string[],
    lifetimeSeconds = TOKEN_LIFETIME_SECONDS,
  ): Promise<IssuedToken> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = issuedAt + lifetimeSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, kid: this.signing.publicJwk.kid, typ: "JWT" })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.signing.key);
    return { token, expiresAt };
  }

  /** A token for `subject` and `audience` valid for at least five more minutes: cached, or minted once for all askers. */
  tokenFor(subject: string, audience: string): string | Promise<string> {
    const key = `${subject}\u0000${audience}`;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expiresAt - RENEW_BEFORE_SECONDS > this.now() / 1000) return cached.token;
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.mint(subject, audience).then(
        (issued) => {
          this.cache.set(key, issued);
          this.pending.delete(key);
          return issued.token;
        },
        (error: unknown) => {
          this.pending.delete(key);
          throw error;
        },
      );
      this.pending.set(key, pending);
    }
    return pending;
  }
}
