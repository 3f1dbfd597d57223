import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../../../runtime/api-error.ts";
import { constantTimeEqual } from "../../../runtime/signatures.ts";
import { type ConsoleSession, type ConsoleSessions, sessionIdFrom } from "./session.ts";

/**
 * Who may call a console route, checked before it runs:
 * - `public`: anyone (the sign-in form and the static assets);
 * - `signed-in`: a live session cookie; without one a page request is sent to the sign-in form (303) and anything
 *   else gets 401;
 * - `signed-in + csrf`: as above, and a state-changing request must come from the console's own origin (Origin, or
 *   Sec-Fetch-Site when a browser sends no Origin) and carry the session's CSRF token (form field `csrf` or header
 *   `X-CSRF-Token`); otherwise 403.
 */
export type ConsoleEnv = { Variables: { session: ConsoleSession; sessionId: string } };

/** Over https (directly, or behind Knative's ingress that says so) cookies are Secure and `__Host-` prefixed. */
export function isSecure(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}

function expectedOrigin(c: Context): string {
  const url = new URL(c.req.url);
  const host = c.req.header("host") ?? url.host;
  return `${isSecure(c) ? "https" : "http"}://${host}`;
}

/** 403 unless the request comes from this origin: the first line of CSRF defence, also for the sign-in form. */
export function checkOrigin(c: Context): void {
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    if (origin !== expectedOrigin(c)) throw new ApiError(403, "forbidden", "cross-origin requests are refused");
    return;
  }
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new ApiError(403, "forbidden", "cross-site requests are refused");
  }
}

function wantsPage(c: Context): boolean {
  return c.req.method === "GET" && (c.req.header("accept") ?? "").includes("text/html");
}

export function requireSession(sessions: ConsoleSessions): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const id = sessionIdFrom(c.req.header("cookie"), isSecure(c));
    const session = id === undefined ? undefined : await sessions.find(id);
    if (id === undefined || session === undefined) {
      if (wantsPage(c)) return c.redirect("/console/login", 303);
      throw new ApiError(401, "unauthenticated", "sign in to the console first");
    }
    c.set("session", session);
    c.set("sessionId", id);
    await next();
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** Origin and synchronizer-token check of every state-changing request (after requireSession). */
export function requireCsrf(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    checkOrigin(c);
    let presented = c.req.header("x-csrf-token");
    if (presented === undefined) {
      const type = c.req.header("content-type") ?? "";
      if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
        const field = (await c.req.parseBody()).csrf;
        if (typeof field === "string") presented = field;
      }
    }
    if (presented === undefined || !constantTimeEqual(presented, c.get("session").csrf)) {
      throw new ApiError(403, "csrf", "the form is stale or forged: reload the page and try again");
    }
    await next();
  };
}
