import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Subscriber, startSubscriber } from "./helpers.ts";

/** The `knclaw dev` and `knclaw send` commands as users run them: real processes, real signals. */
const ROOT = new URL("../..", import.meta.url).pathname;
const CLI = join(ROOT, "cli/knclaw.ts");

function knclaw(args: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function collect(child: ChildProcess) {
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  return out;
}

function waitForOutput(child: ChildProcess, stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) {
        child[stream]!.off("data", onData);
        resolve(match);
      }
    };
    child[stream]!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited (${code}) before ${pattern}: ${text}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function manifests(subscriberUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-cli-"));
  writeFileSync(
    join(dir, "wiring.yaml"),
    `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: out, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${subscriberUrl}/out" }
  delivery: { retry: 2 }
`,
  );
  return dir;
}

describe("knclaw dev / knclaw send (CLI)", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function subscriberWith(responder?: Parameters<typeof startSubscriber>[0]): Promise<Subscriber> {
    const sub = await startSubscriber(responder);
    cleanup.push(() => sub.close());
    return sub;
  }

  it("prints where it listens, and on SIGTERM finishes the in-flight delivery before exiting 0", async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    cleanup.push(() => release?.());
    const sub = await subscriberWith(async () => {
      await gate;
      return { status: 200 };
    });
    const child = knclaw([
      "dev",
      "--no-config",
      "--manifests",
      manifests(sub.url),
      "--port",
      "0",
      "--log-level",
      "warn",
    ]);
    cleanup.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const [, url] = await waitForOutput(child, "stdout", /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const response = await fetch(`${url}/test/default`, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "cli-1", "ce-source": "/cli", "ce-type": "t" },
    });
    expect(response.status).toBe(202);
    await sub.waitForEvent("cli-1");
    const draining = waitForOutput(child, "stderr", /SIGTERM, finishing in-flight deliveries/);
    child.kill("SIGTERM");
    await draining;
    expect(child.exitCode).toBeNull();
    release!();
    expect(await exited(child)).toBe(0);
    expect(sub.received).toHaveLength(1);
  });

  it("refuses to start on invalid objects with a non-zero exit naming the object and the rule", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-cli-bad-"));
    writeFileSync(
      join(dir, "bad.yaml"),
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: two-dialects, namespace: test }
spec:
  broker: default
  subscriber: { uri: "http://127.0.0.1:9" }
  filters: [ { exact: { type: a }, suffix: { type: b } } ]
`,
    );
    const child = knclaw(["dev", "--no-config", "--manifests", dir, "--port", "0"]);
    const output = collect(child);
    expect(await exited(child)).not.toBe(0);
    expect(output.stderr).toContain("Trigger/test/two-dialects");
    expect(output.stderr).toContain("one-dialect");
  });

  it("knclaw send posts an event to a broker like kn event send", async () => {
    const sub = await subscriberWith();
    const dev = knclaw(["dev", "--no-config", "--manifests", manifests(sub.url), "--port", "0", "--log-level", "warn"]);
    cleanup.push(async () => {
      dev.kill("SIGTERM");
      await exited(dev);
    });
    const [, url] = await waitForOutput(dev, "stdout", /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const send = knclaw([
      "send",
      "--url",
      url!,
      "--broker",
      "test/default",
      "--type",
      "dev.knclaw.run.requested",
      "--id",
      "sent-1",
      "--field",
      "task=say hi",
      "--field",
      "meta.count=2",
      "--extension",
      "knclawinstance=ops",
    ]);
    const output = collect(send);
    expect(await exited(send)).toBe(0);
    expect(output.stdout).toContain("sent sent-1");
    const got = await sub.waitForEvent("sent-1");
    expect(got.headers["ce-type"]).toBe("dev.knclaw.run.requested");
    expect(got.headers["ce-knclawinstance"]).toBe("ops");
    expect(JSON.parse(got.body.toString())).toEqual({ task: "say hi", meta: { count: 2 } });

    const unknown = knclaw(["send", "--url", url!, "--broker", "test/nope", "--type", "x"]);
    const unknownOutput = collect(unknown);
    expect(await exited(unknown)).toBe(1);
    expect(unknownOutput.stderr).toContain("404");
  });
});
