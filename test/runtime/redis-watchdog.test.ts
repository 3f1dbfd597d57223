/**
 * The Redis watchdog (runtime/redis-watchdog.ts) on a redis-server of the test's own, stopped with SIGSTOP (hung: the
 * connection stays open, nothing answers): a command waiting on it fails when the watchdog reconnects the client, not
 * by its command timeout (a minute here); new ones are refused at once; all works again once Redis is continued. A
 * stall of this process is not taken for a hung Redis: the probe runs in a thread of its own.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
    const events: string[] = [];
    let answered!: () => void;
    const back = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const watchdog = watchRedis(redis.url, [watched], {
      onHung: () => events.push("hung"),
      onAnswered: () => {
        events.push("answered");
        answered();
      },
    });
    try {
      await watched.set("watchdog:k", "v");
      redis.pause();
      await expect(watched.get("watchdog:k")).rejects.toThrow(/Connection is closed|Redis does not answer/);
      await expect(watched.get("watchdog:k")).rejects.toThrow(/enableOfflineQueue|Redis does not answer/);
      expect(events).toEqual(["hung"]);
      redis.resume();
      await back;
      await ready(watched);
      expect(await watched.get("watchdog:k")).toBe("v");
      expect(events).toEqual(["hung", "answered"]);
    } finally {
      redis.resume();
      await watchdog.stop();
      watched.disconnect();
    }
  });

  it("takes a stall of this process for what it is: Redis answered meanwhile", async () => {
    const watched = await client();
    let hung = 0;
    const watchdog = watchRedis(redis.url, [watched], { onHung: () => hung++ });
    try {
      await watched.ping();
      // This thread stalls well past the hung threshold (a long synchronous task); the probe's thread does not.
      const until = Date.now() + 600;
      while (Date.now() < until) {
        // busy: this event loop does not turn
      }
      await watched.set("watchdog:after-stall", "1");
      expect(hung).toBe(0);
      expect(watched.status).toBe("ready");
    } finally {
      await watchdog.stop();
      watched.disconnect();
    }
  });

  it("probes a Redis on a Unix socket, named by its path as ioredis takes it", async () => {
    const socketDir = await mkdtemp(join(tmpdir(), "knclaw-watchdog-"));
    const socket = join(socketDir, "redis.sock");
    const onSocket = await ownRedis(["--unixsocket", socket, "--unixsocketperm", "700"]);
    const watched = new Redis(socket, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    watched.on("error", () => undefined);
    let answered!: () => void;
    const back = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const watchdog = watchRedis(socket, [watched], { onHung: () => undefined, onAnswered: () => answered() });
    try {
      await ready(watched);
      onSocket.pause();
      // Hung and noticed through the socket: the command fails without a command timeout.
      await expect(watched.get("watchdog:socket")).rejects.toThrow(/Connection is closed|Redis does not answer/);
      onSocket.resume();
      await back;
      await ready(watched);
      expect(await watched.set("watchdog:socket", "1")).toBe("OK");
    } finally {
      onSocket.resume();
      await watchdog.stop();
      watched.disconnect();
      await onSocket.stop();
      await rm(socketDir, { recursive: true, force: true });
    }
  });

  it("shares one probe between two watches of one Redis: both are told, and one stopping leaves the other watched", async () => {
    const first = await client();
    const second = await client();
    const events: string[] = [];
    let answered!: () => void;
    const back = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const one = watchRedis(redis.url, [first], { onHung: () => events.push("one hung") });
    const two = watchRedis(redis.url, [second], {
      onHung: () => events.push("two hung"),
      onAnswered: () => answered(),
    });
    try {
      redis.pause();
      // Both waiting on the hung Redis: one probe's verdict fails both.
      const waiting = [first.get("watchdog:shared"), second.get("watchdog:shared")];
      await Promise.all(
        waiting.map((call) => expect(call).rejects.toThrow(/Connection is closed|Redis does not answer/)),
      );
      expect(events.sort()).toEqual(["one hung", "two hung"]);
      redis.resume();
      await back;
      await one.stop();
      await ready(second);
      // The probe goes on for the watch that is left: a hung Redis is still noticed.
      redis.pause();
      await expect(second.get("watchdog:shared")).rejects.toThrow(/Connection is closed|Redis does not answer/);
      expect(events.filter((event) => event === "two hung")).toHaveLength(2);
    } finally {
      redis.resume();
      await one.stop();
      await two.stop();
      first.disconnect();
      second.disconnect();
    }
  });
});
