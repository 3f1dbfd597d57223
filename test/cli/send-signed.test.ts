import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { FakeSlack } from "../fakes/slack/server.ts";
import { collectOutput, exited, inheritedEnv, runKnclaw, spawnKnclaw, waitForOutput } from "../support/cli-process.ts";

/**
 * `knclaw send --sign` against `knclaw dev` over real HTTP (both spawned as the operator runs them): an event sent as
 * is reaches the broker and its consumer refuses it (403, dead-lettered: knclaw's functions act only on signed
 * events); signed as the operator with the key `knclaw dev` generated for its session, a run.requested without a
 * requester runs and answers on Slack; and the operator is refused, before anything is sent, what its role may not
 * sign (a decision, a run in someone's name or session).
 */
const DLQ_TOKEN = "send-signed-test-dlq-token-0123456789";
/** Nothing of the caller's knclaw environment (a signing key, a broker token) gets in. */
const ours = (name: string) => name.startsWith("KNCLAW_") || name.startsWith("OTEL_") || name === "PORT";
let slack: FakeSlack;
let dev: ChildProcess;
let url: string;
let dir: string;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  dir = mkdtempSync(join(tmpdir(), "knclaw-send-signed-"));
  const config = {
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { default: "ghcr.io/knclaw/knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 1, backoffPolicy: "linear", backoffDelay: "PT0.1S" },
      deadLetterSink: {},
    },
    memory: {},
    policies: { default: { termination: { maxTurns: 3 } } },
    instances: { ops: { model: "demo/echo", policy: "default" } },
    channels: {
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        settings: { slackApiBaseUrl: slack.apiBaseUrl },
        defaultInstance: "ops",
        access: "open",
      },
    },
  };
  writeFileSync(join(dir, "knclaw.yaml"), stringify(config));
  dev = spawnKnclaw(
    ["dev", "-c", join(dir, "knclaw.yaml"), "--port", "0", "--broker-store", "memory", "--log-level", "warn"],
    inheritedEnv(ours, {
      SLACK_SIGNING: "send-signed-test-slack-signing",
      SLACK_BOT: slack.token,
      KNCLAW_DEADLETTER_API_TOKEN: DLQ_TOKEN,
    }),
  );
  collectOutput(dev);
  url = (await waitForOutput(dev, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
}, 120_000);

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    dev.kill("SIGTERM");
    await exited(dev);
  }
  await slack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const runRequest = (runId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    instance: "ops",
    runId,
    task: `say ${runId}`,
    replyTo: { channel: "slack", conversation: "C-OPS" },
    ...extra,
  });
const send = (args: string[]) =>
  runKnclaw(["send", "--url", url, "--type", "dev.knclaw.run.requested", ...args], inheritedEnv(ours));

async function deadLetters(): Promise<string> {
  const response = await fetch(`${url}/functions/deadletter/v1/deadletters`, {
    headers: { authorization: `Bearer ${DLQ_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return response.text();
}

describe("knclaw send --sign", () => {
  it("an unsigned run.requested is refused by the agent; signed as the operator it runs and answers", async () => {
    // Routed as the signed one will be (the Trigger filters on knclawinstance), so only the signature differs.
    const unsigned = await send([
      "--id",
      "unsigned-1",
      "-e",
      "knclawinstance=ops",
      "--data",
      runRequest("run-unsigned"),
    ]);
    expect(unsigned.code, unsigned.stderr).toBe(0);
    // The broker takes it (202); the agent refuses it (403, not retried), so it is dead-lettered at once.
    await expect.poll(deadLetters, { timeout: 30_000, interval: 200 }).toContain("unsigned-1");
    expect(await deadLetters()).toMatch(/event_refused|403/);

    const signed = await send(["--sign", "--id", "signed-1", "--data", runRequest("run-signed")]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toContain("sent signed-1");
    const post = await slack.waitUntil((entry) => JSON.stringify(entry).includes("say run-signed"));
    expect(post).toBeDefined();
    expect(slack.posts().some((entry) => JSON.stringify(entry).includes("run-unsigned"))).toBe(false);
    // Structured mode carries the signed bytes as they are (data_base64), so the signature still holds.
    const structured = await send(["--sign", "--structured", "--data", runRequest("run-structured")]);
    expect(structured.code, structured.stderr).toBe(0);
    await slack.waitUntil((entry) => JSON.stringify(entry).includes("say run-structured"));
  }, 90_000);

  it("refuses, before sending, what the operator may not sign", async () => {
    const asSomeone = await send([
      "--sign",
      "--data",
      runRequest("run-as-ada", { requestedBy: { channel: "slack", id: "U-ADA" } }),
    ]);
    expect(asSomeone.code).toBe(1);
    expect(asSomeone.stderr).toContain("the operator may not sign this dev.knclaw.run.requested");
    const intoSession = await send(["--sign", "--data", runRequest("run-in-session", { sessionKey: "slack:U-ADA" })]);
    expect(intoSession.code).toBe(1);
    expect(intoSession.stderr).toContain("the operator may not sign this dev.knclaw.run.requested");
    const decision = await runKnclaw(
      [
        ...["send", "--url", url, "--sign", "--type", "dev.knclaw.approval.decided"],
        ...["--data", '{"approvalId":"a","runId":"r","callId":"c","instance":"ops","digest":"sha256:x"}'],
      ],
      inheritedEnv(ours),
    );
    expect(decision.code).toBe(1);
    expect(decision.stderr).toContain("the operator may not sign this dev.knclaw.approval.decided");
    const invalid = await send(["--sign", "--data", '{"instance":"ops"}']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("not a valid dev.knclaw.run.requested");
    const routed = await send(["--sign", "--data", runRequest("run-routed"), "--extension", "knclawinstance=dev"]);
    expect(routed.code).toBe(1);
    expect(routed.stderr).toContain("knclaw's extensions follow from the data");
  }, 60_000);
});
