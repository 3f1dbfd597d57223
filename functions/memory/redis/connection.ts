import { createHash } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { useYoungCommandPromises } from "../../../runtime/redis-command-promise.ts";
import { StoreUnavailableError } from "../stores.ts";

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  url: string;
  /** Longest a command may take before the request fails with 503 (also the connect timeout). */
  commandTimeoutMs: number;
  /** Treat the URL as a seed node of a Redis Cluster. */
  cluster?: boolean;
  onError?: (error: Error) => void;
}

/**
 * A client tuned to fail fast instead of queueing: while Redis is unreachable every command is rejected at once
 * (no offline queue, no resend after reconnect, which could apply a write twice), a command that gets no answer
 * fails after `commandTimeoutMs`, and reconnection keeps trying at most every second so that the service recovers
 * by itself when Redis returns.
 */
export function connectRedis(options: RedisConnectionOptions): RedisClient {
  // Every command allocated young (runtime/redis-command-promise.ts says why); a no-op inside a bundled image.
  useYoungCommandPromises();
  const common = {
    // Replies are parsed in their RESP2 shapes (flat WITHSCORES, HGETALL and stream entries).
    protocol: 2 as const,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
  };
  let client: RedisClient;
  if (options.cluster) {
    const url = new URL(options.url);
    client = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
      redisOptions: {
        ...common,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        password: url.password ? decodeURIComponent(url.password) : undefined,
        tls: url.protocol === "rediss:" ? {} : undefined,
      },
    });
  } else {
    client = new Redis(options.url, common);
  }
  // Without a listener ioredis prints every connection error; the service reports them through readiness instead.
  client.on("error", (error: Error) => options.onError?.(error));
  return client;
}

/**
 * Resolves once connected (true) or after `timeoutMs` (false): lets a starting service answer its first requests
 * instead of failing them while the connection is still being set up.
 */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on("ready", onReady);
  });
}

/** Server replies that mean "not now" rather than "wrong request". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

/** Map client-side failures (not connected, timed out, connection lost) to StoreUnavailableError. */
function toStoreError(error: unknown): Error {
  if (error instanceof StoreUnavailableError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const isReply = err.name === "ReplyError";
  if (!isReply || TRANSIENT_REPLY.test(err.message)) {
    return new StoreUnavailableError(`redis unavailable: ${err.message}`, { cause: err });
  }
  return err;
}

/** Runs a Redis call, mapping its failures (thrown or rejected: a pipeline throws when not connected). */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toStoreError(error);
  }
}

/**
 * Runs a pipeline or MULTI and answers its replies in order, each failed command mapped as `guard` maps failures:
 * while Redis is unreachable ioredis resolves `exec` with every command's own error instead of rejecting, and a raw
 * error would answer 500 where the outage is a 503.
 */
export async function execReplies(batch: {
  exec(): Promise<Array<[error: Error | null, reply: unknown]> | null>;
}): Promise<unknown[]> {
  const replies = (await guard(() => batch.exec())) ?? [];
  return replies.map(([error, reply]) => {
    if (error) throw toStoreError(error);
    return reply;
  });
}

/**
 * A Lua script run by its SHA1, loaded on first use and again after a restart emptied the script cache. The `#!lua`
 * header opts into Redis 7 script semantics: on a cluster, a script touching keys of two slots fails instead of
 * silently working on one node, which keeps the key schema honest (the contract suite runs on a cluster too).
 * Read-only scripts say so (`no-writes`), so Redis may run them on replicas and under memory pressure.
 */
export class Script {
  readonly lua: string;
  readonly sha: string;

  constructor(body: string, options: { readOnly?: boolean } = {}) {
    const lua = `#!lua${options.readOnly ? " flags=no-writes" : ""}\n${body}`;
    this.lua = lua;
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  async run<T>(client: RedisClient, keys: string[], args: Array<string | number>): Promise<T> {
    try {
      return (await client.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
        return guard(() => client.eval(this.lua, keys.length, ...keys, ...args) as Promise<T>);
      }
      throw toStoreError(error);
    }
  }
}
