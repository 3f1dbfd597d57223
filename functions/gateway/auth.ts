import { constantTimeEqual } from "../../runtime/signatures.ts";

/**
 * Bearer tokens, in the Authorization header only: a token in a URL ends up in access logs, browser history and
 * Referer headers, so a request that tries one is refused outright. Every configured token is compared (in constant
 * time) so the answer time does not reveal which names exist.
 */
const BEARER = /^Bearer ([\x21-\x7e]{1,1024})$/;
const TOKEN_PARAMS = ["access_token", "token", "api_key", "apikey", "key", "auth"];

export type AuthResult = { ok: true; name: string } | { ok: false; status: 400 | 401; message: string };

export function authenticate(request: Request, tokens: ReadonlyMap<string, string>): AuthResult {
  const url = new URL(request.url);
  for (const param of TOKEN_PARAMS) {
    if (url.searchParams.has(param)) {
      return {
        ok: false,
        status: 400,
        message: "credentials are never accepted in URLs; use the Authorization header",
      };
    }
  }
  const match = BEARER.exec(request.headers.get("authorization") ?? "");
  if (!match) return { ok: false, status: 401, message: "a bearer token is required" };
  let found: string | undefined;
  for (const [name, token] of tokens) {
    if (constantTimeEqual(match[1]!, token) && found === undefined) found = name;
  }
  return found === undefined
    ? { ok: false, status: 401, message: "the bearer token is not valid" }
    : { ok: true, name: found };
}
