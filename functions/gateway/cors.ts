import type { MiddlewareHandler } from "hono";

/**
 * CORS is closed unless origins are configured: no Access-Control-* header is ever sent for an origin not on the
 * list, so a browser page elsewhere cannot read the API's answers. Preflights are answered before authentication
 * (browsers send no credentials on them). Bearer tokens, not cookies: credentials mode stays off.
 */
const ALLOWED_HEADERS =
  "authorization, content-type, prefer, idempotency-key, last-event-id, x-knclaw-session-key, mcp-protocol-version";
const EXPOSED_HEADERS = "location, preference-applied, retry-after, x-knclaw-run-id";

export function cors(origins: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header("origin");
    const allowed = origin !== undefined && origins.has(origin);
    if (c.req.method === "OPTIONS") {
      if (!allowed) return c.body(null, 403);
      return c.body(null, 204, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "600",
        vary: "Origin",
      });
    }
    await next();
    if (allowed) {
      c.res.headers.set("access-control-allow-origin", origin);
      c.res.headers.set("access-control-expose-headers", EXPOSED_HEADERS);
      c.res.headers.append("vary", "Origin");
    }
  };
}
