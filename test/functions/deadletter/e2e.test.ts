import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dlqDelete, dlqList, dlqReplay, dlqShow } from "../../../cli/commands/dlq.ts";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { validateConfigValue } from "../../../knative/config/index.ts";
import { render } from "../../../knative/render/index.ts";
import {
  eventId,
  postBinary,
  receivedAttributes,
  type Subscriber,
  startSubscriber,
} from "../../support/dev-platform.ts";

/**
 * The whole path on `knclaw dev`, from the rendered platform config: a Trigger's subscriber (a test HTTP server)
 * answers 400, the broker dead-letters the event to the deadletter function, which keeps it in the memory service;
 * the subscriber is fixed and `knclaw dlq replay` sends the original event again.
 */
const API_TOKEN = "e2e-deadletter-token-0123456789abcdef";
const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function platformObjects(): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "e2e", namespace: "knclaw" },
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    broker: { delivery: { retry: 2, backoffPolicy: "exponential", backoffDelay: "PT0.01S", timeout: "PT10S" } },
    gateway: { enabled: false },
  });
  return render(config) as unknown as KnativeObject[];
}

function triggerTo(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-dlq-e2e-"));
  writeFileSync(
    join(dir, "trigger.yaml"),
    `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-test-subscriber, namespace: knclaw }
spec:
  broker: default
  filter: { attributes: { type: dev.knclaw.e2e } }
  subscriber: { uri: "${url}/inbox" }
`,
  );
  return dir;
}

describe("dead letters end to end on knclaw dev", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;
  const cli = () => ({ url: `${runtime.url}/functions/deadletter`, env: { KNCLAW_DEADLETTER_TOKEN: API_TOKEN } });

  beforeAll(async () => {
    subscriber = await startSubscriber(() => ({ status: 400, body: "rejected: the inbox is closed" }));
    runtime = await startDev({
      objects: platformObjects(),
      manifestsDir: triggerTo(subscriber.url),
      port: 0,
      schedulePings: false,
      env: { KNCLAW_DEADLETTER_TOKEN: API_TOKEN },
      drainTimeoutMs: 5_000,
    });
  });
  afterAll(async () => {
    await runtime?.shutdown();
    await subscriber?.close();
  });

  it("keeps the failed event with Knative's error extensions and its bytes, then replays the original", async () => {
    const data = Uint8Array.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x31, 0x7d, 0x00, 0xff]);
    const accepted = await postBinary(`${runtime.url}/knclaw/default`, {
      id: "e2e-1",
      type: "dev.knclaw.e2e",
      source: "/e2e",
      extra: { knclawinstance: "assistant" },
      contentType: "application/octet-stream",
      body: data,
    });
    expect(accepted.status).toBe(202);
    // Idle: the delivery failed (400 is not retried) and the dead-letter delivery was answered.
    await runtime.idle();
    expect(subscriber.received).toHaveLength(1);
    expect(runtime.counters).toMatchObject({ deadLettered: 1 });

    const { deadLetters } = await dlqList({ ...cli(), instance: "assistant" });
    expect(deadLetters).toHaveLength(1);
    const entry = await dlqShow(deadLetters[0]!.id, cli());
    expect(entry.attributes).toMatchObject({
      id: "e2e-1",
      source: "/e2e",
      type: "dev.knclaw.e2e",
      knclawinstance: "assistant",
      knativeerrordest: `${subscriber.url}/inbox`,
      knativeerrorcode: "400",
      knativeerrordata: Buffer.from("rejected: the inbox is closed").toString("base64"),
    });
    expect(entry.error).toEqual({
      destination: `${subscriber.url}/inbox`,
      code: 400,
      data: Buffer.from("rejected: the inbox is closed").toString("base64"),
      text: "rejected: the inbox is closed",
    });
    expect(Buffer.from(entry.dataBase64!, "base64")).toEqual(Buffer.from(data));

    // Fixed subscriber; replay through the operator API as `knclaw dlq replay` does.
    subscriber.respond(() => ({ status: 202 }));
    const result = await dlqReplay(entry.id, cli());
    expect(result.replayed.id).toBe("e2e-1");
    const [, replayed] = await subscriber.waitFor(2);
    expect(eventId(replayed!)).toBe("e2e-1");
    const attributes = receivedAttributes(replayed!);
    expect(attributes).toMatchObject({ source: "/e2e", type: "dev.knclaw.e2e", knclawinstance: "assistant" });
    expect(Object.keys(attributes).filter((name) => name.startsWith("knativeerror"))).toEqual([]);
    expect(replayed!.body).toEqual(Buffer.from(data));
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ deadLettered: 1 });
    expect((await dlqShow(entry.id, cli())).replayCount).toBe(1);

    await dlqDelete(entry.id, cli());
    expect((await dlqList(cli())).deadLetters).toEqual([]);
  });

  it("refuses the API without the session token, over the dev port", async () => {
    await expect(dlqList({ ...cli(), env: { KNCLAW_DEADLETTER_TOKEN: "x".repeat(40) } })).rejects.toThrow(/401/);
    const anonymous = await fetch(`${runtime.url}/functions/deadletter/v1/deadletters`);
    expect(anonymous.status).toBe(401);
    expect((await fetch(`${runtime.url}/functions/deadletter/readyz`)).status).toBe(200);
  });
});

describe("dead letters on knclaw dev --processes", () => {
  it("runs the deadletter as its own process once the memory service it depends on is ready", async () => {
    const subscriber = await startSubscriber(() => ({ status: 410, body: "gone" }));
    const runtime = await startDev({
      objects: platformObjects(),
      manifestsDir: triggerTo(subscriber.url),
      port: 0,
      processes: true,
      schedulePings: false,
      env: { ...process.env, KNCLAW_DEADLETTER_TOKEN: API_TOKEN },
      drainTimeoutMs: 5_000,
    });
    try {
      const deadletter = runtime.functions.find((fn) => fn.name === "deadletter")!;
      expect(deadletter.mounted.childUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const accepted = await postBinary(`${runtime.url}/knclaw/default`, { id: "p-1", type: "dev.knclaw.e2e" });
      expect(accepted.status).toBe(202);
      await runtime.idle();
      const cli = { url: `${runtime.url}/functions/deadletter`, env: { KNCLAW_DEADLETTER_TOKEN: API_TOKEN } };
      const { deadLetters } = await dlqList(cli);
      expect(deadLetters.map((entry) => [entry.attributes.id, entry.error.code, entry.error.text])).toEqual([
        ["p-1", 410, "gone"],
      ]);
    } finally {
      await runtime.shutdown();
      await subscriber.close();
    }
  });
});
