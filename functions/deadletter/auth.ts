import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../runtime/api-error.ts";
import { constantTimeEqual } from "../../runtime/signatures.ts";

/**
 * The operator API's bearer token, in the Authorization header only: a token in a URL ends up in access logs and
 * shell history, so a request that tries one is refused outright (400). No token or a wrong one -> 401; no token
 * configured at all -> 403 for everyone (the API is off, dead letters are still kept). Compared in constant time.
 */
const BEARER = /^Bearer ([\x21-\x7e]{1,1024})$/i;
const TOKEN_PARAMS = ["access_token", "token", "api_key", "apikey", "key", "auth"];

export function requireOperator(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (TOKEN_PARAMS.some((param) => url.searchParams.has(param))) {
      throw new ApiError(
        400,
        "credentials_in_url",
        "credentials are never accepted in URLs; use the Authorization header",
      );
    }
    if (token === undefined) {
      throw new ApiError(403, "disabled", "the dead-letter API is disabled: KNCLAW_DEADLETTER_TOKEN is not set");
    }
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    const challenge = { "www-authenticate": 'Bearer realm="knclaw-deadletter"' };
    if (!match) throw new ApiError(401, "unauthorized", "a bearer token is required", challenge);
    if (!constantTimeEqual(match[1]!, token)) {
      throw new ApiError(401, "unauthorized", "the bearer token is not valid", challenge);
    }
    await next();
  };
}
