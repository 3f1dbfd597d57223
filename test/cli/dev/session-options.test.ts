import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { chooseRedisKeyPrefix, type DevSession, startDevSession } from "../../../cli/commands/dev.ts";
import { defaultConfigPath } from "../../../knative/config/index.ts";
import { collectOutput, exited, spawnKnclaw, waitForOutput } from "../../support/cli-process.ts";
import { ownRedis } from "../../support/redis-server.ts";

/**
 * What a newcomer meets first with `knclaw dev` (issue 16): a config of their own without an `images` section, two
 * sessions on one Redis, and a terminal where the start-up listing and the functions' logs must not mix.
 */
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function session(options: Parameters<typeof startDevSession>[0]): Promise<DevSession> {
  const started = await startDevSession(
    { port: "0", logLevel: "warn", stateDir: mkdtempSync(join(tmpdir(), "knclaw-session-")), ...options },
    {},
  );
  cleanup.push(async () => {
    started.cleanup();
    await started.runtime.shutdown();
  });
  return started;
}

/** The shipped config, changed by `edit`, in a file of its own. */
function configFile(edit: (config: Record<string, unknown>) => void): string {
  const config = parse(readFileSync(defaultConfigPath, "utf8")) as Record<string, unknown>;
  edit(config);
  const file = join(mkdtempSync(join(tmpdir(), "knclaw-config-")), "knclaw.yaml");
  writeFileSync(file, stringify(config));
  return file;
}

/** Starts a run on the gateway with the session's token and waits for its outcome. */
async function runThroughGateway(dev: DevSession, task: string): Promise<{ status: string }> {
  const line = dev.lines.find((l) => l.startsWith("Gateway API:"));
  const tokenFile = /token "cli" for this session in (\S+);/.exec(line ?? "")?.[1];
  if (tokenFile === undefined) throw new Error(`no gateway line in: ${dev.lines.join("\n")}`);
  const response = await fetch(`${dev.runtime.url}/api/v1/instances/assistant/runs`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${readFileSync(tokenFile, "utf8")}`,
      "content-type": "application/json",
      prefer: "wait=60",
    },
    body: JSON.stringify({ task }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string };
}

describe("knclaw dev with a config of one's own", () => {
  it("runs a config without an images section: nothing is pulled here", async () => {
    const file = configFile((config) => {
      delete config.images;
    });
    const dev = await session({ config: file, brokerStore: "memory" });
    expect(dev.runtime.functions.map((fn) => fn.name)).toEqual(
      expect.arrayContaining(["memory", "gateway", "agent-assistant", "skill-time"]),
    );
    expect((await runThroughGateway(dev, "hello")).status).toBe("completed");
  });
});

describe("--redis-key-prefix", () => {
  it("puts every key of the session under the prefix: the memory service's and the broker journal's", async () => {
    const redis = await ownRedis();
    // Stopped after the session (cleanups run in reverse).
    cleanup.push(() => redis.stop());
    const dev = await session({ config: defaultConfigPath, redis: redis.url, redisKeyPrefix: "alice:" });
    expect(dev.runtime.brokerStore).toBe("durable, Redis Streams");
    expect((await runThroughGateway(dev, "hello")).status).toBe("completed");
    const client = new Redis(redis.url, { lazyConnect: true });
    cleanup.push(() => client.disconnect());
    await client.connect();
    const keys = await client.keys("*");
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !key.startsWith("alice:"))).toEqual([]);
    expect(keys.some((key) => key.startsWith("alice:broker:"))).toBe(true);
    expect(keys.some((key) => !key.startsWith("alice:broker:"))).toBe(true);
  });

  it("is refused without a Redis, and in a form the memory service would refuse", () => {
    expect(chooseRedisKeyPrefix(undefined, undefined)).toBeUndefined();
    expect(chooseRedisKeyPrefix("bob:", "redis://127.0.0.1:6379")).toBe("bob:");
    expect(() => chooseRedisKeyPrefix("bob:", undefined)).toThrow(/--redis-key-prefix needs --redis URL/);
    expect(() => chooseRedisKeyPrefix("{bob}", "redis://127.0.0.1:6379")).toThrow(
      /invalid --redis-key-prefix: .*braces/,
    );
  });
});

describe("knclaw dev's output", () => {
  it("keeps standard output for the listing: the functions' log lines go to standard error", async () => {
    const dev = spawnKnclaw(["dev", "--port", "0", "--broker-store", "memory"], { ...process.env, PORT: "" });
    cleanup.push(async () => {
      dev.kill("SIGTERM");
      await exited(dev);
    });
    const output = collectOutput(dev);
    // The listing is written at once, its gateway line last but one.
    const [, url] = await waitForOutput(dev, /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*^Gateway API: /m);
    // An unsigned run.requested: the broker takes it from the CLI's identity, the agent refuses it and logs why.
    const refused = waitForOutput(dev, /"msg":"event refused"/, "stderr");
    const send = spawnKnclaw(
      ["send", "--url", url!, "--type", "dev.knclaw.run.requested", "-f", "task=hi", "-e", "knclawinstance=assistant"],
      { ...process.env, PORT: "" },
    );
    expect(await exited(send)).toBe(0);
    await refused;
    const logLine = output.stderr.split("\n").find((line) => line.includes('"msg":"event refused"'))!;
    expect(JSON.parse(logLine)).toMatchObject({ component: "agent-assistant", service: "agent-assistant" });
    // Every line of standard output is the listing's: no JSON log line among them.
    expect(output.stdout).toMatch(/^knclaw dev listening on /);
    expect(output.stdout.split("\n").filter((line) => line.startsWith("{"))).toEqual([]);
  });
});
