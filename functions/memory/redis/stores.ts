import { Redis } from "ioredis";
import { watchRedis } from "../../../runtime/redis-watchdog.ts";
import { RedisAuditStore } from "../audit/redis.ts";
import { RedisBlobStore } from "../blobs/redis.ts";
import { RedisCoordinationStore } from "../coordination/redis.ts";
import { RedisDeadLetterStore } from "../dead-letters/redis.ts";
import { RedisNoteStore } from "../notes/redis.ts";
import { RedisPeopleStore } from "../people/redis.ts";
import { RedisRunStore } from "../runs/redis.ts";
import { RedisSessionStore } from "../sessions/redis.ts";
import { type MemoryStores, StoreUnavailableError } from "../stores.ts";
import { RedisTimerStore } from "../timers/redis.ts";
import { connectRedis, guard, type RedisClient, type RedisConnectionOptions, waitUntilReady } from "./connection.ts";
import type { RedisContext } from "./context.ts";
import { KeySchema } from "./keys.ts";

export interface RedisStoresOptions extends RedisConnectionOptions {
  keyPrefix: string;
}

export interface RedisStores extends MemoryStores {
  readonly client: RedisClient;
  /** Resolves once connected (true) or after `timeoutMs` (false). */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
}

/** Every area's store on one Redis (or Redis Cluster) connection: the key schema is in keys.ts. */
export function openRedisStores(options: RedisStoresOptions): RedisStores {
  const ctx: RedisContext = { client: connectRedis(options), keys: new KeySchema(options.keyPrefix) };
  const { client } = ctx;
  // A hung Redis is refused in ~100 ms, not after the command timeout (runtime/redis-watchdog.ts).
  // A cluster's clients are per node, out of reach here: there the command timeout is the limit.
  const watchdog = client instanceof Redis ? watchRedis(options.url, [client]) : undefined;
  return {
    kind: "redis",
    client,
    sessions: new RedisSessionStore(ctx),
    people: new RedisPeopleStore(ctx),
    notes: new RedisNoteStore(ctx),
    runs: new RedisRunStore(ctx),
    blobs: new RedisBlobStore(ctx),
    coordination: new RedisCoordinationStore(ctx),
    audit: new RedisAuditStore(ctx),
    deadLetters: new RedisDeadLetterStore(ctx),
    timers: new RedisTimerStore(ctx),
    waitUntilReady: (timeoutMs) => waitUntilReady(client, timeoutMs),
    async ping() {
      const answer = await guard(() => client.ping());
      if (answer !== "PONG") throw new StoreUnavailableError(`unexpected PING answer ${answer}`);
    },
    async close() {
      await watchdog?.stop();
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
