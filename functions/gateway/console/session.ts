import { createHash, randomBytes } from "node:crypto";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";

/**
 * Operator console sessions, kept server-side in the gateway's state (the memory service's key-value space, so every
 * replica knows them) with an expiry. The browser holds only an opaque random id in an HttpOnly, SameSite=Strict
 * cookie; the store is keyed by the id's sha256, so the stored keys cannot be used as cookies. A session names the
 * gateway token it was opened with (the name, never the token) and carries its CSRF synchronizer token.
 */
export interface ConsoleSession {
  /** The gateway token's name: the console acts as `http:<name>`, like that token on the API. */
  tokenName: string;
  /** Every state-changing form posts this back (compared in constant time). */
  csrf: string;
  expiresAt: number;
}

/** How long a session lasts from sign-in; signing in again starts a new one. */
export const SESSION_SECONDS = 8 * 3600;

const COOKIE = "knclaw_session";
/** Over https the cookie takes the `__Host-` prefix: Secure, Path=/ and no Domain, enforced by the browser. */
const SECURE_COOKIE = `__Host-${COOKIE}`;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function cookieName(secure: boolean): string {
  return secure ? SECURE_COOKIE : COOKIE;
}

export function sessionCookie(id: string, secure: boolean): string {
  const attributes = [
    `${cookieName(secure)}=${id}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${SESSION_SECONDS}`,
  ];
  if (secure) attributes.push("Secure");
  return attributes.join("; ");
}

export function clearedCookie(secure: boolean): string {
  return `${cookieName(secure)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`;
}

/** The session id a Cookie header carries, if it looks like one of ours. */
export function sessionIdFrom(cookieHeader: string | undefined, secure: boolean): string | undefined {
  if (cookieHeader === undefined) return undefined;
  const name = cookieName(secure);
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (ID_PATTERN.test(value)) return value;
  }
  return undefined;
}

function storeKey(id: string): string {
  return `gw:console:${createHash("sha256").update(id).digest("base64url")}`;
}

export class ConsoleSessions {
  private readonly kv: KeyValueState;
  private readonly now: () => number;

  constructor(kv: KeyValueState, now: () => number) {
    this.kv = kv;
    this.now = now;
  }

  async open(tokenName: string): Promise<{ id: string; session: ConsoleSession }> {
    const id = randomBytes(32).toString("base64url");
    const session: ConsoleSession = {
      tokenName,
      csrf: randomBytes(32).toString("base64url"),
      expiresAt: this.now() + SESSION_SECONDS * 1000,
    };
    await this.kv.set(storeKey(id), JSON.stringify(session), SESSION_SECONDS);
    return { id, session };
  }

  async find(id: string): Promise<ConsoleSession | undefined> {
    const raw = await this.kv.get(storeKey(id));
    if (raw === undefined) return undefined;
    const session = JSON.parse(raw) as ConsoleSession;
    return session.expiresAt > this.now() ? session : undefined;
  }

  async close(id: string): Promise<void> {
    await this.kv.delete(storeKey(id));
  }
}
