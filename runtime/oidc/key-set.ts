import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from "jose";

/**
 * The issuer's signing keys, found as Knative's verifier finds them (pkg/auth/verifier.go: OIDC discovery at the
 * issuer, then its JWKS): at `jwksUrl` when one is configured, else at the `jwks_uri` of
 * `<issuer>/.well-known/openid-configuration`, whose `issuer` must be exactly the configured one (OpenID Connect
 * Discovery 1.0 §4.3). jose's remote key set keeps the keys for 10 minutes and reloads them for a token whose `kid`
 * it does not know, at most once per 30 s: a stream of tokens with made-up key ids costs one fetch per 30 s.
 */

/** The keys could not be fetched (network, status, not a key set): nothing can be said about the token. */
export class KeySetUnavailable extends Error {
  override readonly name = "KeySetUnavailable";
}

export interface KeySetOptions {
  issuer: string;
  jwksUrl?: string;
  /** How discovery and keys are fetched (key-fetch.ts presents the pod's credentials to the API server). */
  fetch: typeof fetch;
}

/** After a failed discovery, deliveries are refused at once for this long instead of each fetching again. */
const DISCOVERY_RETRY_MS = 5_000;
const FETCH_TIMEOUT_MS = 5_000;

export function remoteKeySet(options: KeySetOptions): JWTVerifyGetKey {
  const jwks = (url: string) =>
    createRemoteJWKSet(new URL(url), { timeoutDuration: FETCH_TIMEOUT_MS, [customFetch]: options.fetch });
  let keys: JWTVerifyGetKey | undefined = options.jwksUrl === undefined ? undefined : jwks(options.jwksUrl);
  let discovering: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  const discover = async (): Promise<JWTVerifyGetKey> => {
    if (Date.now() - failedAt < DISCOVERY_RETRY_MS) {
      throw new KeySetUnavailable("the issuer's discovery document could not be read; retrying shortly");
    }
    discovering ??= discoverJwksUri(options).then(
      (url) => {
        keys = jwks(url);
        return keys;
      },
      (error: unknown) => {
        failedAt = Date.now();
        discovering = undefined;
        throw error instanceof KeySetUnavailable ? error : new KeySetUnavailable("the issuer's discovery failed");
      },
    );
    return discovering;
  };

  return async (header, token) => {
    const set = keys ?? (await discover());
    try {
      return await set(header, token);
    } catch (error) {
      if (isFetchFailure(error)) throw new KeySetUnavailable("the issuer's keys could not be fetched");
      throw error;
    }
  };
}

/** A failure to get the key set, as opposed to a token no key in it verifies (those are the token's fault). */
function isFetchFailure(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true;
  return (
    error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === errors.JOSEError.code
  );
}

async function discoverJwksUri(options: KeySetOptions): Promise<string> {
  const url = `${options.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const response = await options.fetch(url, {
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (response.status !== 200) throw new KeySetUnavailable(`discovery answered ${response.status}`);
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    document = (await response.json()) as typeof document;
  } catch {
    throw new KeySetUnavailable("the discovery document is not JSON");
  }
  if (document.issuer !== options.issuer) {
    throw new KeySetUnavailable("the discovery document names another issuer");
  }
  if (typeof document.jwks_uri !== "string" || !/^https?:\/\//.test(document.jwks_uri)) {
    throw new KeySetUnavailable("the discovery document has no jwks_uri");
  }
  return document.jwks_uri;
}
