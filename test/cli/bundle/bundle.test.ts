import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFunction } from "../../../cli/bundle/bundle.ts";
import { findFunctionEntries } from "../../../cli/bundle/function-entries.ts";
import { repoRoot } from "../../../cli/repo-root.ts";
import { roleKeys } from "../../support/event-keys.ts";
import { freePort } from "../../support/free-port.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "knclaw-bundle-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("function bundles", () => {
  it("finds every deployable function folder", () => {
    const names = findFunctionEntries(repoRoot()).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["memory", "gateway", "agent", "channel-slack", "skill-time"]));
  });

  it("bundles a function into one self-contained file that starts and becomes ready outside the checkout", async () => {
    const entry = findFunctionEntries(repoRoot()).find((e) => e.name === "skill-time")!;
    const bundle = await bundleFunction(repoRoot(), entry, work);
    const source = await readFile(bundle.file, "utf8");
    // zod's translated locales are dropped; its English messages stay.
    expect(source).not.toContain("Ungültige Eingabe");
    expect(source).toContain("Invalid input");
    const port = await freePort();
    const child = spawn(process.execPath, [bundle.file], {
      cwd: work, // no node_modules reachable from here: everything must be inside the bundle
      // What a rendered skill needs to start: the agent keys it trusts and its own key for signing replies.
      env: {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        KNCLAW_AGENT_KEYS: "{}",
        KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/time").privateKeyPem,
        NODE_ENV: "production",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      let status = 0;
      // Poll the readiness endpoint the way Knative's queue-proxy does; the test timeout is the safety net.
      while (status !== 200) {
        if (child.exitCode !== null) throw new Error(`bundle exited early: ${stderr}`);
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      // SIGTERM drains and exits 0 (Knative runtime contract).
      expect(await exited).toBe(0);
    }
  });
});
