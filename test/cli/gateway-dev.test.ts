import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type DevSession, startDevSession } from "../../cli/commands/dev.ts";
import { invokeRun, registerInvokeCommand } from "../../cli/commands/invoke.ts";
import { listPairing } from "../../cli/commands/pairing.ts";
import { followRunEvents, getRun, type RunEvent, registerRunsCommand } from "../../cli/commands/runs.ts";
import { sessionTokenPath } from "../../cli/session-tokens.ts";
import { defaultConfigPath } from "../../knative/config/index.ts";

/**
 * The gateway under `knclaw dev` with the shipped config, used as an operator would: the session makes up the
 * gateway token and says where its file is; `knclaw invoke` finds it by itself and gets the demo model's answer,
 * which (asked to use the time skill) includes what the skill said; `knclaw runs get/events` show the run. The token
 * never shows up in what these commands print.
 */
let session: DevSession;
let token: string;
let tokenFile: string;
/** What a client on this machine has: the dev URL and no token in the environment. */
const client = () => ({ url: session.runtime.url, env: {} });

beforeAll(async () => {
  // Two sessions run at once here: the broker keeps accepted events in memory (durability is tested elsewhere).
  session = await startDevSession(
    { config: defaultConfigPath, port: "0", logLevel: "warn", brokerStore: "memory" },
    {},
  );
  const line = session.lines.find((l) => l.startsWith("Gateway API:"));
  const match = /token "cli" for this session in (\S+); knclaw invoke assistant/.exec(line ?? "");
  if (!match) throw new Error(`no gateway line in: ${session.lines.join("\n")}`);
  tokenFile = match[1]!;
  token = readFileSync(tokenFile, "utf8");
});

afterAll(async () => {
  session?.cleanup();
  await session?.runtime.shutdown();
});

/** Run commander commands in-process, capturing what they print. */
async function knclaw(args: string[], env: Record<string, string | undefined> = {}) {
  const program = new Command("knclaw").exitOverride();
  registerInvokeCommand(program);
  registerRunsCommand(program);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  const saved = { ...process.env };
  // The commands read process.env by default: give them only what the test says.
  for (const name of Object.keys(process.env))
    if (name.startsWith("KNCLAW_") || name === "PORT") delete process.env[name];
  Object.assign(process.env, env);
  let error: Error | undefined;
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (thrown) {
    error = thrown as Error;
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
  return { stdout: out.join(""), stderr: err.join(""), error };
}

describe("the gateway under knclaw dev", () => {
  it("generates the configured token into a private session file whose path (not the token) it prints", () => {
    expect(tokenFile).toBe(sessionTokenPath("gateway", session.runtime.port));
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.lines.join("\n")).not.toContain(token);
    expect(session.lines).toContain(
      `Gateway API: ${session.runtime.url}/api/v1  (token "cli" for this session in ${tokenFile}; knclaw invoke assistant "what time is it?")`,
    );
  });

  it("knclaw invoke returns the demo model's answer with the time skill's result", async () => {
    const before = Date.now();
    const { finished, run } = await invokeRun("assistant", "what time is it? use now", { ...client(), wait: 60 });
    expect(finished).toBe(true);
    expect(run).toMatchObject({ instance: "assistant", status: "completed" });
    expect(run.output).toContain("[demo model]");
    // The demo model called time.now and reports what the skill answered: the current time.
    expect(run.output).toMatch(/time__now answered: .*"utc":"(\d{4}-\d\d-\d\dT[^"]+Z)"/);
    const utc = Date.parse(/"utc":"([^"]+)"/.exec(run.output!)![1]!);
    expect(utc).toBeGreaterThanOrEqual(before - 1000);
    expect(utc).toBeLessThanOrEqual(Date.now() + 1000);

    const got = await getRun(run.runId, client());
    expect(got).toMatchObject({ runId: run.runId, status: "completed", output: run.output });
    const events: RunEvent[] = [];
    const outcome = await followRunEvents(run.runId, client(), (event) => events.push(event));
    expect(outcome).toMatchObject({ type: "completed", data: { output: run.output } });
    expect(events.map((e) => e.type)).toContain("message");
    expect(events.at(-1)).toBe(outcome);
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // Resuming after the first event replays the rest only.
    const rest: RunEvent[] = [];
    await followRunEvents(run.runId, { ...client(), after: events[0]!.id }, (event) => rest.push(event));
    expect(rest).toEqual(events.slice(1));
  });

  it("with --wait 0 prints the run id at once; runs events follows it to the end and runs get shows it", async () => {
    const started = await knclaw([
      "invoke",
      "assistant",
      "hello",
      "there",
      "--wait",
      "0",
      "--url",
      session.runtime.url,
    ]);
    expect(started.error).toBeUndefined();
    const runId = started.stdout.trim();
    expect(runId).toMatch(/^run-[0-9a-f-]{36}$/);
    expect(started.stderr).toContain(`follow it with knclaw runs events ${runId}`);

    const events = await knclaw(["runs", "events", runId, "--url", session.runtime.url]);
    expect(events.error).toBeUndefined();
    expect(events.stdout).toMatch(/message: \[demo model\] You said: "hello there"/);
    expect(events.stdout.trim().split("\n").at(-1)).toMatch(
      /completed \(\d+ in \/ \d+ out tokens, \$0\.0000, \d+ ms\): /,
    );

    const got = await knclaw(["runs", "get", runId, "--url", session.runtime.url]);
    expect(got.stdout).toContain(`run:       ${runId}`);
    expect(got.stdout).toContain("status:    completed");
    expect(got.stdout).toContain('output:\n[demo model] You said: "hello there"');
    const json = await knclaw(["runs", "get", runId, "--json", "--url", session.runtime.url]);
    expect(JSON.parse(json.stdout)).toMatchObject({ runId, status: "completed" });

    for (const result of [started, events, got, json]) {
      expect(result.stdout + result.stderr).not.toContain(token);
    }
  });

  it("starts one run per idempotency key, and passes a session key along", async () => {
    const options = { ...client(), idempotencyKey: `cli-test-${Date.now()}`, sessionKey: "cli-test-session", wait: 60 };
    const first = await invokeRun("assistant", "use now", options);
    const again = await invokeRun("assistant", "use now", options);
    expect(again.run.runId).toBe(first.run.runId);
    expect(again.run.output).toBe(first.run.output);
    const other = await invokeRun("assistant", "use now", {
      ...options,
      idempotencyKey: `${options.idempotencyKey}-2`,
    });
    expect(other.run.runId).not.toBe(first.run.runId);
  });

  it("finds the token from the environment, --token-file or the session file (default URL from PORT), never printing it", async () => {
    const port = String(session.runtime.port);
    const file = join(mkdtempSync(join(tmpdir(), "knclaw-invoke-")), "token");
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const runs = [
      await knclaw(["invoke", "assistant", "use now"], { PORT: port }),
      await knclaw(["invoke", "assistant", "use now", "--url", session.runtime.url], { KNCLAW_GATEWAY_TOKEN: token }),
      await knclaw(["invoke", "assistant", "use now", "--token-file", file], {
        KNCLAW_GATEWAY_URL: session.runtime.url,
      }),
    ];
    for (const result of runs) {
      expect(result.error).toBeUndefined();
      expect(result.stdout).toContain("time__now answered");
      expect(result.stdout + result.stderr).not.toContain(token);
    }
    // Other gateway commands share the lookup: pairing finds the session token too.
    await expect(listPairing({ ...client(), instance: "assistant" })).resolves.toEqual([]);
  });

  it("reports refusals and bad input plainly, without echoing any token", async () => {
    const wrong = "wrong-token-wrong-token-0123456789";
    const refused = await knclaw(["invoke", "assistant", "hi", "--url", session.runtime.url], {
      KNCLAW_GATEWAY_TOKEN: wrong,
    });
    expect(refused.error?.message).toMatch(/the gateway answered 401/);
    expect(`${refused.error?.message}${refused.stdout}${refused.stderr}`).not.toContain(wrong);

    const unknown = await knclaw(["invoke", "nobody", "hi", "--url", session.runtime.url]);
    expect(unknown.error?.message).toMatch(/the gateway answered 404: no instance named "nobody"/);
    expect(`${unknown.error?.message}${unknown.stdout}${unknown.stderr}`).not.toContain(token);

    const missing = await knclaw([
      "runs",
      "get",
      "run-00000000-0000-0000-0000-000000000000",
      "--url",
      session.runtime.url,
    ]);
    expect(missing.error?.message).toMatch(/answered 404: no such run/);
    const noEvents = await knclaw([
      "runs",
      "events",
      "run-00000000-0000-0000-0000-000000000000",
      "--url",
      session.runtime.url,
    ]);
    expect(noEvents.error?.message).toMatch(/answered 404/);

    await expect(invokeRun("Bad Name", "hi", client())).rejects.toThrow(/is not an instance name/);
    await expect(invokeRun("assistant", "   ", client())).rejects.toThrow(/the task is empty/);
    await expect(invokeRun("assistant", "hi", { ...client(), wait: "soon" })).rejects.toThrow(
      /--wait takes whole seconds/,
    );
    await expect(getRun("bad id", client())).rejects.toThrow(/is not a run id/);
    await expect(followRunEvents("run-x", { ...client(), after: "x" }, () => {})).rejects.toThrow(/--after/);
    // No token anywhere: say how to give one.
    await expect(invokeRun("assistant", "hi", { url: "http://127.0.0.1:9", env: {} })).rejects.toThrow(
      /no gateway token: set KNCLAW_GATEWAY_TOKEN or pass --token-file/,
    );
  });
});

describe("knclaw dev with the gateway token in the environment", () => {
  it("generates nothing, writes no file, and says where clients read the token", async () => {
    const given = "token-from-the-environment-0123456789";
    const env: Record<string, string | undefined> = { KNCLAW_GATEWAY_CLI_TOKEN: given };
    const other = await startDevSession(
      { config: defaultConfigPath, port: "0", logLevel: "warn", brokerStore: "memory" },
      env,
    );
    try {
      expect(other.lines.find((l) => l.startsWith("Gateway API:"))).toBe(
        `Gateway API: ${other.runtime.url}/api/v1  (tokens from the environment; clients read $KNCLAW_GATEWAY_TOKEN)`,
      );
      expect(existsSync(sessionTokenPath("gateway", other.runtime.port))).toBe(false);
      expect(env.KNCLAW_GATEWAY_TOKEN_CLI).toBeUndefined();
      const { run } = await invokeRun("assistant", "hi", {
        url: other.runtime.url,
        env: { KNCLAW_GATEWAY_TOKEN: given },
        wait: 60,
      });
      expect(run.status).toBe("completed");
    } finally {
      other.cleanup();
      await other.runtime.shutdown();
    }
    // The first session's file is still there; the cleanup of a session removes its own.
    expect(existsSync(tokenFile)).toBe(true);
  });
});
