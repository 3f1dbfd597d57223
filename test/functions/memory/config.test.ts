import { describe, expect, it } from "vitest";
import { createApp } from "../../../functions/memory/app.ts";
import { loadConfig } from "../../../functions/memory/config.ts";
import { EnvError } from "../../../runtime/env-contract.ts";

const SECRET = "config-test-secret-0123456789";

describe("memory service configuration", () => {
  it("picks the embedded backend without a Redis URL and Redis with one", () => {
    expect(loadConfig({ KNCLAW_MEMORY_TOKEN_SECRET: SECRET })).toMatchObject({
      backend: "embedded",
      keyPrefix: "knclaw:",
    });
    expect(loadConfig({ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_REDIS_URL: "redis://r:6379" })).toMatchObject({
      backend: "redis",
      redisUrl: "redis://r:6379",
      redisCluster: false,
    });
    expect(
      loadConfig({
        KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
        KNCLAW_REDIS_URL: "redis://r",
        KNCLAW_MEMORY_BACKEND: "embedded",
      }).backend,
    ).toBe("embedded");
    expect(
      loadConfig({
        KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
        KNCLAW_MEMORY_MAX_BODY_BYTES: "2048",
        KNCLAW_REDIS_KEY_PREFIX: "t:",
      }),
    ).toMatchObject({ maxBodyBytes: 2048, keyPrefix: "t:" });
  });

  it("refuses incomplete or unsafe settings with a clear error", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /KNCLAW_MEMORY_TOKEN_SECRET is required/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: "short" }, /at least 16/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_MEMORY_BACKEND: "redis" }, /needs KNCLAW_REDIS_URL/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_MEMORY_BACKEND: "memcached" }, /'redis' or 'embedded'/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_REDIS_URL: "http://r" }, /redis:\/\//],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_REDIS_KEY_PREFIX: "{x}:" }, /braces/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_MEMORY_OPERATOR_TOKEN: "abc" }, /OPERATOR_TOKEN/],
      [{ KNCLAW_MEMORY_TOKEN_SECRET: SECRET, KNCLAW_MEMORY_REDIS_TIMEOUT_MS: "fast" }, /REDIS_TIMEOUT_MS/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env)).toThrow(EnvError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });

  it("fails createApp on a bad configuration without echoing secrets", async () => {
    const secretOperator = "op";
    const error = await createApp({
      KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
      KNCLAW_MEMORY_OPERATOR_TOKEN: secretOperator,
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(EnvError);
    expect((error as Error).message).not.toContain(SECRET);
    expect((error as Error).message).not.toContain(`"${secretOperator}"`);
  });
});
