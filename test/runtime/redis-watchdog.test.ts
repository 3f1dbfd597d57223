/**
 * The Redis watchdog (runtime/redis-watchdog.ts) on a redis-server of the test's own: stopped with SIGSTOP (hung: the
 * connection stays open, nothing answers), the command waiting on it fails as the watchdog closes the connection, not
 * by its command timeout (a minute here), new ones are refused at once, and all works again once Redis is continued.
 * A pause of this process is not taken for a hung Redis.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchRedis } from "../../runtime/redis-watchdog.ts";
import { type OwnRedis, ownRedis } from "../support/redis-server.ts";

let redis: OwnRedis;

beforeAll(async () => {
  redis = await ownRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** A client as the memory service makes one: no offline queue, no retries, a long command timeout. */
async function client(): Promise<Redis> {
  const c = new Redis(redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 60_000,
    retryStrategy: () => 50,
  });
  c.on("error", () => undefined);
  await new Promise((resolve) => c.once("ready", resolve));
  return c;
}

const ready = (c: Redis) => (c.status === "ready" ? Promise.resolve() : new Promise((r) => c.once("ready", r)));

describe("the Redis watchdog", () => {
  it("fails what waits on a hung Redis and refuses new calls, then recovers when Redis answers", async () => {
    const watched = await client();
    let hung = 0;
    let answered = 0;
    const probe = watched.duplicate();
    const watchdog = watchRedis(probe, [watched], {
      onHung: () => hung++,
      onAnswered: () => answered++,
    });
    try {
      await ready(probe);
      await watched.set("watchdog:k", "v");
      redis.pause();
      await expect(watched.get("watchdog:k")).rejects.toThrow("Connection is closed");
      expect(hung).toBe(1);
      await expect(watched.get("watchdog:k")).rejects.toThrow(/enableOfflineQueue/);
      redis.resume();
      await ready(watched);
      expect(await watched.get("watchdog:k")).toBe("v");
      await probe.ping();
      expect(answered).toBe(1);
    } finally {
      redis.resume();
      watchdog.stop();
      watched.disconnect();
    }
  });

  it("takes a pause of this process for what it is: Redis answered meanwhile", async () => {
    const watched = await client();
    let hung = 0;
    const probe = watched.duplicate();
    const watchdog = watchRedis(probe, [watched], { onHung: () => hung++ });
    try {
      await ready(probe);
      // A PING in flight, then this process stalls well past the hung threshold (a long synchronous task).
      await probe.ping();
      const until = Date.now() + 400;
      while (Date.now() < until) {
        // busy: the event loop does not turn
      }
      await watched.set("watchdog:after-stall", "1");
      expect(hung).toBe(0);
      expect(watched.status).toBe("ready");
    } finally {
      watchdog.stop();
      watched.disconnect();
    }
  });
});
