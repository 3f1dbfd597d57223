import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startDevSession } from "../../../cli/commands/dev.ts";
import { defaultConfigPath } from "../../../knative/config/index.ts";

/**
 * `knclaw dev` keeps what it generates (the memory token secret, every producer's signing key) in its state directory,
 * so a restart is not a trust reset: the second session starts on exactly the keys of the first, in a file only its
 * user can read.
 */
const stateDir = mkdtempSync(join(tmpdir(), "knclaw-dev-keys-"));

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

async function session(): Promise<Record<string, string>> {
  const started = await startDevSession(
    { config: defaultConfigPath, port: "0", logLevel: "warn", brokerStore: "memory", stateDir },
    {},
  );
  try {
    return JSON.parse(readFileSync(join(stateDir, "secrets", "generated.json"), "utf8")) as Record<string, string>;
  } finally {
    started.cleanup();
    await started.runtime.shutdown();
  }
}

describe("knclaw dev's generated keys", () => {
  it("are kept in the state directory (0700, file 0600) and are the same after a restart", async () => {
    const first = await session();
    const ids = Object.keys(first);
    expect(ids).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^memory-token-secret:/),
        expect.stringMatching(/^signing-key:knclaw\/knclaw-agent-keys\//),
        expect.stringMatching(/^signing-key:knclaw\/knclaw-event-keys\/gateway$/),
      ]),
    );
    expect(statSync(join(stateDir, "secrets")).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, "secrets", "generated.json")).mode & 0o777).toBe(0o600);
    const second = await session();
    expect(second).toEqual(first);
  });
});
