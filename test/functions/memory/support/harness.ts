import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { MemoryClient, type MemoryClientOptions } from "../../../../clients/memory/client.ts";
import { type MemoryScope, mintMemoryToken } from "../../../../clients/memory/tokens.ts";
import { createApp, type MemoryAppOptions, type MemoryServiceApp } from "../../../../functions/memory/app.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";

export const SECRET = "memory-test-secret-0123456789abcdef";
export const SHARED_REDIS = "redis://127.0.0.1:6379";

/** A key prefix no other test run uses, so tests share the local Redis without seeing each other's keys. */
export function uniquePrefix(): string {
  return `knclaw-test:${randomBytes(6).toString("hex")}:`;
}

export interface MemoryHarness {
  url: string;
  app: MemoryServiceApp;
  served: Served;
  token(scope: MemoryScope): string;
  client(scope: MemoryScope, options?: Partial<MemoryClientOptions>): MemoryClient;
  /** A raw HTTP request (for malformed, oversized and unauthenticated calls). */
  raw(path: string, init?: RequestInit & { scope?: MemoryScope; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** The memory service over real HTTP on loopback (an OS-chosen port). */
export async function startMemory(env: Record<string, string>, options: MemoryAppOptions = {}): Promise<MemoryHarness> {
  const app = await createApp({ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, NODE_ENV: "test", ...env }, options);
  const served = await serve(app, { port: 0, host: "127.0.0.1", drainTimeoutMs: 1000 });
  const token = (scope: MemoryScope) => mintMemoryToken(SECRET, scope);
  return {
    url: served.url,
    app,
    served,
    token,
    client: (scope, clientOptions = {}) =>
      new MemoryClient({ baseUrl: served.url, token: token(scope), retryDelayMs: 20, ...clientOptions }),
    raw: (path, init = {}) => {
      const { scope, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (scope) headers.set("authorization", `Bearer ${token(scope)}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetch(`${served.url}${path}`, {
        ...rest,
        headers,
        body: json === undefined ? rest.body : JSON.stringify(json),
      });
    },
    close: () => served.shutdown(),
  };
}

/** Delete every key under `prefix` (what a test run wrote to a shared Redis). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

export const instanceScope = (instance: string): MemoryScope => ({ kind: "instance", instance });
export const OPERATOR: MemoryScope = { kind: "operator" };

/** A clock the test can move forward; the service decides session resets, windows and expiry with it. */
export class TestClock {
  offset = 0;
  readonly now = () => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

/** Limits small enough for tests to reach. */
export const TEST_LIMITS = {
  KNCLAW_MEMORY_MAX_BODY_BYTES: "65536",
  KNCLAW_MEMORY_MAX_NOTES_PER_OWNER: "5",
  KNCLAW_MEMORY_MAX_PENDING_PAIRINGS: "4",
  KNCLAW_MEMORY_OPERATOR_TOKEN: "operator-token-for-tests-0123456789",
};

let instances = 0;
/** A fresh instance name per test, so tests sharing one service never see each other's data. */
export function freshInstance(): string {
  instances += 1;
  return `t${instances}-${randomBytes(3).toString("hex")}`;
}

/** Poll `check` until it returns a value (not undefined/false): for conditions only time can bring (TTL expiry). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
