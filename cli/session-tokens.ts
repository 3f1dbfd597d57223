import { lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The bearer tokens `knclaw dev` makes up for one session (the gateway's, the dead-letter API's, with OIDC on the
 * operator's identity token for its brokers), the operator's event signing key (`knclaw send --sign`), and how the
 * client commands find them: a private file per API and port (mode 0600 in a 0700 directory of this user, under the system's
 * temporary directory) whose PATH `knclaw dev` prints, never the token. A client command takes its token from
 * --token-file, else its environment variable, else (for a URL on this machine) the session file for that port;
 * never from a flag value, so a token stays out of shell history and the process list.
 */
export type SessionApi = "broker" | "deadletter" | "gateway" | "operator-signing-key";

/** A directory only this user can enter, under the system's temporary directory. */
function sessionDir(): string {
  return join(tmpdir(), `knclaw-dev-${process.getuid?.() ?? "user"}`);
}

export function sessionTokenPath(api: SessionApi, port: number): string {
  return join(sessionDir(), `${api}-token-${port}`);
}

/** Refuse a path someone else could have planted or can read: it must be ours, not a link, and private. */
function isPrivate(path: string, kind: "dir" | "file"): boolean {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat || stat.isSymbolicLink()) return false;
  if (kind === "dir" ? !stat.isDirectory() : !stat.isFile()) return false;
  const uid = process.getuid?.();
  return (uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0;
}

/** Write the session token where the client commands find it; returns the path. */
export function writeSessionToken(api: SessionApi, port: number, token: string): string {
  const dir = sessionDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isPrivate(dir, "dir")) throw new Error(`${dir} is not a private directory of this user`);
  const path = sessionTokenPath(api, port);
  // A file left by an earlier session on this port is replaced, never written through (it could be a link).
  removeSessionToken(api, port);
  writeFileSync(path, token, { mode: 0o600, flag: "wx" });
  return path;
}

export function removeSessionToken(api: SessionApi, port: number): void {
  try {
    unlinkSync(sessionTokenPath(api, port));
  } catch {
    // already gone
  }
}

/**
 * Publish a token `knclaw dev` generated: the file is written and the returned note says where (or why there is no
 * file); `cleanup` removes it at shutdown. Never returns the token.
 */
export function publishSessionToken(
  api: SessionApi,
  port: number,
  token: string,
): { path?: string; problem?: string; cleanup: () => void } {
  try {
    const path = writeSessionToken(api, port, token);
    return { path, cleanup: () => removeSessionToken(api, port) };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error), cleanup: () => {} };
  }
}

/** The session token for a base URL on this machine, when `knclaw dev` wrote one for its port. */
export function readSessionToken(api: SessionApi, base: string): string | undefined {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return undefined;
  }
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return undefined;
  const path = sessionTokenPath(api, Number(url.port || 80));
  if (!isPrivate(sessionDir(), "dir") || !isPrivate(path, "file")) return undefined;
  return readFileSync(path, "utf8").trim() || undefined;
}

export interface TokenSource {
  tokenFile?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The environment variable holding the token. */
  envName: string;
  api: SessionApi;
  /** The API's base URL, for the session file lookup. */
  baseUrl: string;
  /** How errors name the API ("gateway", "dead-letter"). */
  what: string;
}

/** --token-file, else the environment variable, else the dev session's file; an error saying how to give one. */
export function resolveToken(source: TokenSource): string {
  if (source.tokenFile !== undefined) {
    const token = readFileSync(source.tokenFile, "utf8").trim();
    if (!token) throw new Error(`${source.tokenFile} is empty`);
    return token;
  }
  const token = source.env[source.envName] || readSessionToken(source.api, source.baseUrl);
  if (!token) {
    throw new Error(
      `no ${source.what} token: set ${source.envName} or pass --token-file (knclaw dev prints where its file is)`,
    );
  }
  return token;
}
