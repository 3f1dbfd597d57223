import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readSessionToken } from "../../../cli/session-tokens.ts";
import { collectOutput as collect, exited, spawnKnclaw, waitForOutput } from "../../support/cli-process.ts";
import { type Subscriber, startSubscriber } from "../../support/dev-platform.ts";

/** The `knclaw dev` and `knclaw send` commands as users run them: real processes, real signals. */
const knclaw = (args: string[]) => spawnKnclaw(args, { ...process.env, PORT: "" });

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
    const [, url] = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const event = { "ce-specversion": "1.0", "ce-id": "cli-1", "ce-source": "/cli", "ce-type": "t" };
    // Knative's authentication-oidc is emulated: the broker takes events from senders with a token only.
    expect((await fetch(`${url}/test/default`, { method: "POST", headers: event })).status).toBe(401);
    const token = readSessionToken("broker", url!);
    const response = await fetch(`${url}/test/default`, {
      method: "POST",
      headers: { ...event, authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(202);
    await sub.waitForEvent("cli-1");
    const draining = waitForOutput(child, /SIGTERM, finishing in-flight deliveries/, "stderr");
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
    const [, url] = await waitForOutput(dev, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
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

    // Structured mode (JSON data inline) and non-JSON data (bytes) are encoded by the cloudevents SDK too.
    const structured = knclaw([
      ...["send", "--url", url!, "--broker", "test/default", "--type", "dev.knclaw.run.requested"],
      ...["--id", "sent-2", "--structured", "--data", '{"task":"structured"}'],
    ]);
    expect(await exited(structured)).toBe(0);
    expect(JSON.parse((await sub.waitForEvent("sent-2")).body.toString())).toEqual({ task: "structured" });
    const text = knclaw([
      ...["send", "--url", url!, "--broker", "test/default", "--type", "dev.knclaw.run.requested"],
      ...["--id", "sent-3", "--structured", "--content-type", "text/plain", "--data", "plain words"],
    ]);
    expect(await exited(text)).toBe(0);
    const plain = await sub.waitForEvent("sent-3");
    expect(plain.headers["content-type"]).toMatch(/^text\/plain/);
    expect(plain.body.toString()).toBe("plain words");

    const unknown = knclaw(["send", "--url", url!, "--broker", "test/nope", "--type", "x"]);
    const unknownOutput = collect(unknown);
    expect(await exited(unknown)).toBe(1);
    expect(unknownOutput.stderr).toContain("404");
  });
});
