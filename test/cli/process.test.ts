import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sessionTokenPath } from "../../cli/session-tokens.ts";
import { mintMemoryToken } from "../../clients/memory/tokens.ts";
import { readSecretsDir } from "../../knative/secrets/index.ts";
import {
  exited,
  inheritedEnv,
  collectOutput as output,
  runKnclaw,
  spawnKnclaw,
  waitForOutput,
} from "../support/cli-process.ts";

/** `npm start` + `knclaw invoke` / `knclaw runs` / `knclaw secrets generate` as users run them: real processes. */
/** The environment without any knclaw token or URL, so what the commands find is what they made themselves. */
const cleanEnv = (extra: Record<string, string>) =>
  inheritedEnv((name) => name.startsWith("KNCLAW_") || name === "PORT", extra);
const knclaw = (args: string[], env: Record<string, string>) => spawnKnclaw(args, cleanEnv(env));
const run = (args: string[], env: Record<string, string>, cwd?: string) => runKnclaw(args, cleanEnv(env), cwd);

describe("knclaw dev + invoke + runs (CLI processes)", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0).reverse()) fn();
  });

  it("answers `knclaw invoke` on the shipped config with the session token it wrote, which no output shows", async () => {
    const dev = knclaw(["dev", "--log-level", "warn"], { PORT: "0" });
    cleanup.push(() => {
      if (dev.exitCode === null) dev.kill("SIGKILL");
    });
    const devOutput = output(dev);
    const [, port, file] = await waitForOutput(
      dev,
      /Gateway API: http:\/\/127\.0\.0\.1:(\d+)\/api\/v1 {2}\(token "cli" for this session in (\S+); knclaw invoke assistant/,
    );
    expect(file).toBe(sessionTokenPath("gateway", Number(port)));
    expect(statSync(file!).mode & 0o777).toBe(0o600);
    const token = readFileSync(file!, "utf8");

    const answer = await run(["invoke", "assistant", "what", "time", "is", "it?", "use", "now"], { PORT: port! });
    expect(answer).toMatchObject({ code: 0 });
    expect(answer.stdout).toMatch(/^\[demo model\] time__now answered: .*"utc":"/);

    const queued = await run(["invoke", "assistant", "hello", "--wait", "0"], { PORT: port! });
    expect(queued.code).toBe(0);
    const runId = queued.stdout.trim();
    const events = await run(["runs", "events", runId], { PORT: port! });
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/completed .*You said: "hello"/);
    const got = await run(["runs", "get", runId, "--json"], { PORT: port! });
    expect(JSON.parse(got.stdout)).toMatchObject({ runId, status: "completed" });

    dev.kill("SIGTERM");
    expect(await exited(dev)).toBe(0);
    expect(existsSync(file!)).toBe(false);
    for (const result of [devOutput, answer, queued, events, got]) {
      expect(result.stdout + result.stderr).not.toContain(token);
    }
  });

  it("`npm start` without Redis keeps runs and sessions in its state directory across kill -9", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "knclaw-state-kept-"));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const token = randomBytes(24).toString("base64url");
    const memorySecret = randomBytes(24).toString("base64url");
    // The same tokens on both starts, so this test reads what the first process wrote as any client would.
    const env = {
      PORT: "0",
      KNCLAW_STATE_DIR: stateDir,
      KNCLAW_GATEWAY_CLI_TOKEN: token,
      KNCLAW_MEMORY_TOKENS_SECRET: memorySecret,
    };
    const start = async () => {
      const dev = knclaw(["dev", "--log-level", "warn"], env);
      cleanup.push(() => {
        if (dev.exitCode === null) dev.kill("SIGKILL");
      });
      const [, url] = await waitForOutput(dev, /Gateway API: (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/);
      return { dev, url: url! };
    };
    const gateway = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const memory = { authorization: `Bearer ${mintMemoryToken(memorySecret, { kind: "operator" })}` };

    const first = await start();
    const answer = await fetch(`${first.url}/api/v1/instances/assistant/runs`, {
      method: "POST",
      headers: { ...gateway, prefer: "wait=60" },
      body: JSON.stringify({ task: "hello", sessionKey: "kept" }),
    });
    expect(answer.status).toBe(200);
    const done = (await answer.json()) as { runId: string; status: string; output: string };
    expect(done).toMatchObject({ status: "completed", output: expect.stringContaining("hello") });
    first.dev.kill("SIGKILL");
    await exited(first.dev);
    expect(statSync(join(stateDir, "memory.sqlite")).mode & 0o777).toBe(0o600);

    const second = await start();
    // The gateway's record of the run, the agent's run document and the session all came back from the file.
    const kept = await fetch(`${second.url}/api/v1/runs/${done.runId}`, { headers: gateway });
    expect(await kept.json()).toMatchObject({ runId: done.runId, status: "completed", output: done.output });
    const doc = await fetch(`${second.url}/functions/memory/v1/instances/assistant/runs/${done.runId}`, {
      headers: memory,
    });
    expect(await doc.json()).toMatchObject({ run: { id: done.runId, status: "completed" } });
    const session = await fetch(`${second.url}/functions/memory/v1/instances/assistant/sessions`, { headers: memory });
    const { sessions } = (await session.json()) as { sessions: Array<{ sessionKey: string }> };
    expect(sessions.length).toBeGreaterThan(0);
    second.dev.kill("SIGTERM");
    expect(await exited(second.dev)).toBe(0);
  }, 180_000); // a safety net: two knclaw dev starts on a loaded 2-core machine

  it("knclaw secrets generate writes private files and prints no value", async () => {
    // A fresh working directory: no ./knclaw.yaml there, so the shipped default config is used.
    const cwd = mkdtempSync(join(tmpdir(), "knclaw-secrets-cli-"));
    const dir = join(cwd, "out");
    const first = await run(["secrets", "generate", "-o", dir], {}, cwd);
    expect(first.code).toBe(0);
    const values = readSecretsDir(dir);
    expect([...values.keys()].sort()).toEqual([
      "knclaw/knclaw-agent-keys/assistant",
      "knclaw/knclaw-deadletter/api-token",
      "knclaw/knclaw-event-keys/gateway",
      "knclaw/knclaw-event-keys/memory",
      "knclaw/knclaw-event-keys/operator",
      "knclaw/knclaw-event-keys/skill-memory",
      "knclaw/knclaw-event-keys/skill-time",
      "knclaw/knclaw-event-trust/bundle",
      "knclaw/knclaw-gateway/cli-token",
      "knclaw/knclaw-memory-tokens/agent-assistant",
      "knclaw/knclaw-memory-tokens/deadletter",
      "knclaw/knclaw-memory-tokens/gateway",
      "knclaw/knclaw-memory-tokens/secret",
      "knclaw/knclaw-memory-tokens/skill-memory",
    ]);
    for (const value of values.values()) {
      for (const line of value.split("\n").filter((l) => l.length > 8 && !l.startsWith("-----"))) {
        expect(first.stdout + first.stderr).not.toContain(line);
      }
    }
    expect(first.stdout).toContain("instances.assistant.publicKey is missing: add it");
    const again = await run(["secrets", "generate", "--from", dir], {}, cwd);
    expect(again.code).toBe(0);
    expect(readSecretsDir(dir)).toEqual(values);
    const refused = await run(["secrets", "generate", "-o", dir], {}, cwd);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^knclaw: .* already holds .*--from/);
  });
});
