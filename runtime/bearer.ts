import type { MiddlewareHandler } from "hono";
import { ApiError } from "./api-error.ts";
import { constantTimeEqual } from "./signatures.ts";

/**
 * Bearer tokens (RFC 6750 §2.1), read from the Authorization header only: the scheme is case-insensitive, then exactly
 * one space and one token of the token68 alphabet. Anything else is no credential at all. Tokens are compared in
 * constant time by the function's verifier, and a refusal answers 401 with a `WWW-Authenticate: Bearer` challenge.
 */

/**
 * Longer than any token knclaw mints or accepts in config; a longer header is refused before any comparison. A
 * middleware taking JWTs (a ServiceAccount token is about a kilobyte) sets its own bound.
 */
export const MAX_BEARER_TOKEN_LENGTH = 1024;

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined when the header is missing, malformed or
 * longer than `maxLength`.
 */
export function parseBearer(
  authorization: string | null | undefined,
  maxLength: number = MAX_BEARER_TOKEN_LENGTH,
): string | undefined {
  if (authorization === null || authorization === undefined || authorization.length > maxLength + 7) return undefined;
  return BEARER.exec(authorization)?.[1];
}

/** Who a verified token belongs to; handlers read it with `c.get("principal")`. */
export type BearerEnv<Principal> = { Variables: { principal: Principal } };

export interface BearerOptions<Principal> {
  /**
   * The token's principal, or undefined when it opens nothing. Must compare secrets in constant time. May throw an
   * ApiError for an answer other than 401 (the keys to check it with cannot be fetched: 503).
   */
  verify(token: string): Principal | undefined | Promise<Principal | undefined>;
  /** Named in the challenge (RFC 6750 §3) so a client can tell which credential is asked for. */
  realm?: string;
  /** Longest token accepted (default MAX_BEARER_TOKEN_LENGTH). */
  maxTokenLength?: number;
}

/** 401 unless the request carries a bearer token the verifier accepts; its principal goes on the context. */
export function bearer<Principal>(options: BearerOptions<Principal>): MiddlewareHandler<BearerEnv<Principal>> {
  const challenge = { "www-authenticate": options.realm === undefined ? "Bearer" : `Bearer realm="${options.realm}"` };
  return async (c, next) => {
    const token = parseBearer(c.req.header("authorization"), options.maxTokenLength);
    if (token === undefined) {
      throw new ApiError(401, "unauthorized", "a bearer token is required", { headers: challenge });
    }
    const principal = await options.verify(token);
    if (principal === undefined) {
      throw new ApiError(401, "unauthorized", "the bearer token is not valid", { headers: challenge });
    }
    c.set("principal", principal);
    await next();
  };
}

/**
 * A verifier over configured tokens by name: the principal is the name of the token presented. Every token is
 * compared, in constant time, so the answer time reveals neither which names exist nor which one matched.
 */
export function namedTokens<Name extends string>(
  tokens: ReadonlyMap<Name, string>,
): (token: string) => Name | undefined {
  return (presented) => {
    let found: Name | undefined;
    for (const [name, token] of tokens) {
      if (constantTimeEqual(presented, token) && found === undefined) found = name;
    }
    return found;
  };
}

const URL_CREDENTIALS = ["access_token", "token", "api_key", "apikey", "key", "auth"];

/**
 * 400 for a request that carries a credential in its URL: URLs end up in access logs, shell and browser history and
 * Referer headers, so such a request is refused outright rather than merely ignored.
 */
export function refuseCredentialsInUrl(): MiddlewareHandler {
  return async (c, next) => {
    const query = new URL(c.req.url).searchParams;
    if (URL_CREDENTIALS.some((name) => query.has(name))) {
      throw new ApiError(
        400,
        "credentials_in_url",
        "credentials are never accepted in URLs; use the Authorization header",
      );
    }
    await next();
  };
}
