import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import type { Logger } from "../../../../runtime/log.ts";
import type { McpServerSettingsInput } from "../../../../skills/mcp/settings.ts";
import { freePort } from "../../../support/free-port.ts";

const require = createRequire(import.meta.url);

/** The bin of a published MCP server package, run with this Node. */
function serverBin(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = (JSON.parse(readFileSync(manifest, "utf8")) as { bin: Record<string, string> }).bin;
  return join(dirname(manifest), bins[bin]!);
}

export const EVERYTHING = serverBin("@modelcontextprotocol/server-everything", "mcp-server-everything");
export const FILESYSTEM = serverBin("@modelcontextprotocol/server-filesystem", "mcp-server-filesystem");

/** `@modelcontextprotocol/server-everything` over stdio, as a skill's settings. */
export function everythingStdio(extra: Partial<McpServerSettingsInput> = {}): McpServerSettingsInput {
  return {
    transport: "stdio",
    command: process.execPath,
    args: [EVERYTHING, "stdio"],
    ...extra,
  } as McpServerSettingsInput;
}

/** `@modelcontextprotocol/server-filesystem` over stdio, confined to `dir`. */
export function filesystemStdio(dir: string, extra: Partial<McpServerSettingsInput> = {}): McpServerSettingsInput {
  return { transport: "stdio", command: process.execPath, args: [FILESYSTEM, dir], ...extra } as McpServerSettingsInput;
}

export interface HttpEverything {
  url: string;
  close(): Promise<void>;
}

/** `@modelcontextprotocol/server-everything` in its Streamable HTTP mode on a free loopback port. */
export async function startEverythingHttp(): Promise<HttpEverything> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes(`listening on port ${port}`)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server-everything exited (${code}): ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A logger whose lines a test can wait for (the MCP connection logs progress and closes). */
export function watchedLogger(): { log: Logger; next(message: string): Promise<Record<string, unknown>> } {
  const waiters: Array<{ message: string; resolve: (line: Record<string, unknown>) => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString("utf8")) as Record<string, unknown>;
      for (const waiter of [...waiters]) {
        if (line.msg === waiter.message) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      done();
    },
  });
  return {
    log: pino({ level: "debug" }, stream),
    next: (message) => new Promise((resolve) => waiters.push({ message, resolve })),
  };
}

/** Pids of this process's children running `script` (the stdio servers the skill started). */
export function childrenRunning(script: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(script)) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

export interface RecordingProxy {
  url: string;
  /** The headers of every request that reached the proxy. */
  seen: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

/** A loopback proxy in front of `target` that records request headers (what credentials the skill sent). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const seen: RecordingProxy["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ ...req.headers });
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface OAuthGuard {
  /** The guarded MCP endpoint (the proxy in front of the server). */
  url: string;
  issuer: string;
  /** Token requests the authorization server answered, with the client id and secret it was given. */
  grants: Array<{ grantType: string | null; clientId: string | null; clientSecret: string | null }>;
  close(): Promise<void>;
}

/**
 * An OAuth 2.0 protected resource in front of `target` and its authorization server, both on loopback: the
 * resource answers 401 with RFC 9728 metadata until a request carries the token the authorization server issues
 * for the client credentials `clientId` / `clientSecret` (RFC 8414 metadata, client_secret_basic or _post).
 */
export async function startOAuthGuard(target: string, clientId: string, clientSecret: string): Promise<OAuthGuard> {
  const token = "issued-access-token";
  const grants: OAuthGuard["grants"] = [];
  const auth = createServer((req, res) => {
    const origin = `http://127.0.0.1:${(auth.address() as { port: number }).port}`;
    if (req.url === "/.well-known/oauth-authorization-server") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          response_types_supported: ["code"],
          grant_types_supported: ["client_credentials"],
          token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        }),
      );
      return;
    }
    if (req.url === "/token" && req.method === "POST") {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      req.on("end", () => {
        const form = new URLSearchParams(body);
        let id = form.get("client_id");
        let secret = form.get("client_secret");
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
        if (basic) {
          const [user, pass] = Buffer.from(basic[1]!, "base64").toString("utf8").split(":");
          id = decodeURIComponent(user ?? "");
          secret = decodeURIComponent(pass ?? "");
        }
        grants.push({ grantType: form.get("grant_type"), clientId: id, clientSecret: secret });
        const ok = form.get("grant_type") === "client_credentials" && id === clientId && secret === clientSecret;
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
        res.end(
          JSON.stringify(
            ok ? { access_token: token, token_type: "Bearer", expires_in: 3600 } : { error: "invalid_client" },
          ),
        );
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => auth.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(auth.address() as { port: number }).port}`;

  const upstream = new URL(target);
  const resource = createServer((req, res) => {
    const origin = `http://127.0.0.1:${(resource.address() as { port: number }).port}`;
    if (req.url?.startsWith("/.well-known/oauth-protected-resource")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ resource: `${origin}${upstream.pathname}`, authorization_servers: [issuer] }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, {
        "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource${upstream.pathname}"`,
      });
      res.end();
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => resource.listen(0, "127.0.0.1", resolve));
  const close = (server: ReturnType<typeof createServer>) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${(resource.address() as { port: number }).port}${upstream.pathname}`,
    issuer,
    grants,
    close: async () => {
      await close(resource);
      await close(auth);
    },
  };
}
