import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { chooseBrokerStore, chooseStateDir } from "../../../cli/commands/dev.ts";
import { configuredRedisKeyPrefix, configuredRedisUrl, describeBrokerStore } from "../../../cli/dev/broker-store.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";

/** Which store `knclaw dev` keeps accepted events in, from its options and the config. */
const memoryService = (env: Array<Record<string, unknown>>): KnativeObject => ({
  apiVersion: "serving.knative.dev/v1",
  kind: "Service",
  metadata: { name: "memory", namespace: "knclaw" },
  spec: { template: { spec: { containers: [{ image: "x", env }] } } },
});

describe("knclaw dev's broker store", () => {
  it("is SQLite in the state directory by default: --state-dir, else $KNCLAW_STATE_DIR, else ./.knclaw", () => {
    expect(chooseStateDir("/tmp/s", { KNCLAW_STATE_DIR: "/tmp/e" })).toBe("/tmp/s");
    expect(chooseStateDir(undefined, { KNCLAW_STATE_DIR: "/tmp/e" })).toBe("/tmp/e");
    expect(chooseStateDir(undefined, {})).toBe(resolve(".knclaw"));
    expect(chooseBrokerStore({}, "/tmp/s", undefined)).toEqual({
      kind: "sqlite",
      path: "/tmp/s/broker.sqlite",
      fullSync: false,
    });
    expect(chooseBrokerStore({ brokerFsync: true }, "/tmp/s", undefined)).toMatchObject({ fullSync: true });
  });

  it("is Redis Streams with --redis or when the config names a Redis; memory only when asked", () => {
    expect(chooseBrokerStore({ redis: "redis://r:6379" }, "/tmp/s", undefined)).toEqual({
      kind: "redis",
      url: "redis://r:6379",
      keyPrefix: "knclaw:broker:",
    });
    expect(chooseBrokerStore({}, "/tmp/s", "redis://from-config")).toEqual({
      kind: "redis",
      url: "redis://from-config",
      keyPrefix: "knclaw:broker:",
    });
    // --redis-key-prefix: the journal's keys under the session's prefix too.
    expect(chooseBrokerStore({ redis: "redis://r:6379", redisKeyPrefix: "alice:" }, "/tmp/s", undefined)).toEqual({
      kind: "redis",
      url: "redis://r:6379",
      keyPrefix: "alice:broker:",
    });
    expect(chooseBrokerStore({ brokerStore: "sqlite", redis: "redis://r" }, "/tmp/s", undefined).kind).toBe("sqlite");
    expect(chooseBrokerStore({ brokerStore: "memory" }, "/tmp/s", undefined)).toEqual({ kind: "memory" });
    expect(() => chooseBrokerStore({ brokerStore: "redis" }, "/tmp/s", undefined)).toThrow(/needs --redis/);
    expect(() => chooseBrokerStore({ brokerStore: "kafka" }, "/tmp/s", undefined)).toThrow(/sqlite, redis or memory/);
  });

  it("reads the memory service's Redis URL from the environment as knclaw dev reads Secrets", () => {
    const objects = [
      memoryService([
        { name: "KNCLAW_MEMORY_BACKEND", value: "redis" },
        { name: "KNCLAW_REDIS_URL", valueFrom: { secretKeyRef: { name: "redis", key: "url" } } },
      ]),
    ];
    expect(configuredRedisUrl(objects, { REDIS_URL: "redis://secret:6379" })).toBe("redis://secret:6379");
    expect(configuredRedisUrl(objects, {})).toBeUndefined();
    const embedded = [memoryService([{ name: "KNCLAW_MEMORY_BACKEND", value: "embedded" }])];
    expect(configuredRedisUrl(embedded, { REDIS_URL: "redis://secret:6379" })).toBeUndefined();
  });

  it("keeps the journal under the memory service's key prefix: the flag's, else the config's", () => {
    const objects = [
      memoryService([
        { name: "KNCLAW_MEMORY_BACKEND", value: "redis" },
        { name: "KNCLAW_REDIS_KEY_PREFIX", value: "team-a:" },
      ]),
    ];
    const prefix = configuredRedisKeyPrefix(objects);
    expect(prefix).toBe("team-a:");
    expect(chooseBrokerStore({}, "/tmp/s", "redis://r", prefix)).toMatchObject({ keyPrefix: "team-a:broker:" });
    expect(chooseBrokerStore({ redisKeyPrefix: "me:" }, "/tmp/s", "redis://r", prefix)).toMatchObject({
      keyPrefix: "me:broker:",
    });
    expect(configuredRedisKeyPrefix([memoryService([{ name: "KNCLAW_MEMORY_BACKEND", value: "embedded" }])])).toBe(
      undefined,
    );
  });

  it("is described without the Redis URL (it may carry a password)", () => {
    expect(describeBrokerStore({ kind: "redis", url: "redis://:hunter2@r:6379" })).not.toContain("hunter2");
    expect(describeBrokerStore({ kind: "memory" })).toMatch(/not durable/);
  });
});
