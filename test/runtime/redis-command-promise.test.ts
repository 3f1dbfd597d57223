/**
 * runtime/redis-command-promise.ts: ioredis's Command#initPromise with its reject closure made by a function call, so
 * V8 allocates it in the young generation (a function literal assigned to a property is allocated old). Checked
 * deterministically in a child process with V8's %InYoungGeneration, then against a real Redis: replies, Buffer
 * replies, argument and reply transformers, errors, callbacks and a command timeout behave as ioredis's own.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Command, Redis, ReplyError } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useYoungCommandPromises } from "../../runtime/redis-command-promise.ts";
import { type OwnRedis, ownRedis } from "../support/redis-server.ts";

const moduleUrl = new URL("../../runtime/redis-command-promise.ts", import.meta.url).href;

/** How many of 20,000 new commands have their reject closure in the old generation, before and after the fix. */
function oldClosures(): { before: number; after: number } {
  const script = `
    import { Command } from "ioredis";
    import { useYoungCommandPromises } from ${JSON.stringify(moduleUrl)};
    const count = () => {
      let old = 0;
      for (let i = 0; i < 20000; i++) if (!%InYoungGeneration(new Command("get", ["k" + i]).reject)) old++;
      return old;
    };
    const before = count();
    if (!useYoungCommandPromises()) throw new Error("not applied");
    console.log(JSON.stringify({ before, after: count() }));`;
  const out = execFileSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", script], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    encoding: "utf8",
  });
  return JSON.parse(out) as { before: number; after: number };
}

describe("young command promises", () => {
  it("is applied to the installed ioredis (a new ioredis version must be compared and added)", () => {
    expect(useYoungCommandPromises()).toBe(true);
  });

  it("allocates each command's reject closure young, where ioredis's own allocates it old", () => {
    const { before, after } = oldClosures();
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(0);
  });

  describe("on a real Redis", () => {
    let redis: OwnRedis;
    let client: Redis;

    beforeAll(async () => {
      useYoungCommandPromises();
      redis = await ownRedis();
      client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
      await client.ping();
    });
    afterAll(async () => {
      client?.disconnect();
      await redis?.stop();
    });

    it("answers, as strings and as Buffers", async () => {
      expect(await client.set("k", "v")).toBe("OK");
      expect(await client.get("k")).toBe("v");
      expect(await client.getBuffer("k")).toEqual(Buffer.from("v"));
    });

    it("applies argument and reply transformers", async () => {
      await client.hset("h", { a: "1", b: "2" });
      expect(await client.hgetall("h")).toEqual({ a: "1", b: "2" });
    });

    it("rejects with Redis's error", async () => {
      await expect(client.call("NO-SUCH-COMMAND")).rejects.toBeInstanceOf(ReplyError);
      await client.set("s", "x");
      await expect(client.lpush("s", "y")).rejects.toThrow(/WRONGTYPE/);
    });

    it("answers callbacks", async () => {
      const value = await new Promise((resolve, reject) =>
        client.get("k", (error, result) => (error ? reject(error) : resolve(result))),
      );
      expect(value).toBe("v");
      const error = await new Promise((resolve) => client.call("NO-SUCH-COMMAND", (caught) => resolve(caught)));
      expect(error).toBeInstanceOf(ReplyError);
    });

    it("answers a command within its timeout, and fails one that outlives it", async () => {
      const timed = new Redis(redis.url, { maxRetriesPerRequest: 0, commandTimeout: 1000 });
      try {
        await new Promise((resolve) => timed.once("ready", resolve));
        expect(await timed.get("k")).toBe("v");
        // BLPOP waits 5 s for an element that never comes: the command's timer fails it first.
        await expect(timed.blpop("nothing-here", 5)).rejects.toThrow(/timed out/);
      } finally {
        timed.disconnect();
      }
    });

    it("sends commands built directly", async () => {
      const command = new Command("get", ["k"], { replyEncoding: "utf8" });
      await client.sendCommand(command);
      expect(await command.promise).toBe("v");
    });
  });
});
