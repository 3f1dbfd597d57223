import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { devTokenPath } from "../../../cli/commands/dlq.ts";
import {
  exited,
  inheritedEnv,
  collectOutput as output,
  runKnclaw,
  spawnKnclaw,
  waitForOutput,
} from "../../support/cli-process.ts";

/** `npm start` (knclaw dev on the shipped config) and `knclaw dlq` as users run them: real processes, real signals. */
/** The environment without any dead-letter token, so what the commands find is what they made themselves. */
const cleanEnv = (extra: Record<string, string>) => inheritedEnv((name) => name.startsWith("KNCLAW_DEADLETTER"), extra);
const knclaw = (args: string[], env: Record<string, string>) => spawnKnclaw(args, cleanEnv(env));
const run = (args: string[], env: Record<string, string>) => runKnclaw(args, cleanEnv(env));

describe("npm start and knclaw dlq (CLI)", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0).reverse()) fn();
  });

  it("starts the shipped config, says where the dead-letter API and its token are, and stops on SIGTERM", async () => {
    const dev = knclaw(["dev", "--log-level", "warn"], { PORT: "0" });
    cleanup.push(() => {
      if (dev.exitCode === null) dev.kill("SIGKILL");
    });
    const devOutput = output(dev);
    const [, url, port, file] = await waitForOutput(
      dev,
      /Dead letters: (http:\/\/127\.0\.0\.1:(\d+))\/functions\/deadletter\/v1\/deadletters {2}\(token for this session in (\S+);/,
    );
    expect(devOutput.stdout).toContain(`knclaw dev listening on ${url}`);
    for (const fn of ["memory", "deadletter", "gateway", "agent-assistant"]) {
      expect(devOutput.stdout).toContain(
        `knclaw/${fn}  http://${fn}.knclaw.svc.cluster.local -> ${url}/functions/${fn}/`,
      );
    }
    expect(file).toBe(devTokenPath(Number(port)));
    expect(statSync(file!).mode & 0o777).toBe(0o600);

    // `knclaw dlq` on the same port finds the session's token by itself; a wrong token is refused.
    const listed = await run(["dlq", "list"], { PORT: port! });
    expect(listed).toMatchObject({ code: 0, stdout: "no dead letters\n" });
    const missing = await run(["dlq", "show", "dl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"], { PORT: port! });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/answered 404/);
    const wrong = await run(["dlq", "list", "--url", `${url}/functions/deadletter`], {
      KNCLAW_DEADLETTER_TOKEN: "not-the-session-token-0123456789",
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/answered 401/);

    dev.kill("SIGTERM");
    expect(await exited(dev)).toBe(0);
    expect(devOutput.stderr).not.toMatch(/"level":(50|60)/);
    expect(existsSync(file!)).toBe(false);
  });

  it("takes the token from --token-file, and says so when it has none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-dlq-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "");
    const empty = await run(
      ["dlq", "list", "--url", "http://127.0.0.1:9/functions/deadletter", "--token-file", tokenFile],
      {},
    );
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/is empty/);
    const none = await run(["dlq", "list", "--url", "http://127.0.0.1:9/functions/deadletter"], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no dead-letter token: set KNCLAW_DEADLETTER_TOKEN or pass --token-file/);
  });
});
