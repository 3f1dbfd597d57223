import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../functions/channels/webhook/app.ts";
import { streamedUploads } from "../../support/streaming-upload.ts";
import { type RunningAdapter, runAdapter } from "./support/harness.ts";
import { RecordingBroker } from "./support/recording-broker.ts";

/**
 * A channel adapter's webhook route with a body over its 1 MiB limit, streamed by Node's fetch from another process:
 * the route reads the rest (up to the limit again) before answering, and lingers after answering a body larger still,
 * so the platform sees the 413 and not a reset.
 */
describe("webhook route: an oversized streamed body", () => {
  let broker: RecordingBroker;
  let adapter: RunningAdapter;

  beforeAll(async () => {
    broker = await new RecordingBroker().start();
    adapter = await runAdapter(createApp, {
      KNCLAW_WEBHOOK_HOOKS: JSON.stringify({ alerts: { instance: "ops", task: "Look at {{alert}}." } }),
      SIGNING_SECRET: "hook-secret-alerts",
      K_SINK: broker.url,
    });
  });
  afterAll(async () => {
    await adapter.stop();
    await broker.stop();
  });

  it("answers 413 every time and emits nothing", async () => {
    const outcomes = await streamedUploads({
      url: `${adapter.url}/channels/webhook/alerts`,
      headers: { "content-type": "application/json" },
      bytes: 1536 * 1024,
      pauseAfter: 1100 * 1024,
      attempts: 10,
    });
    expect(outcomes).toEqual(new Array(10).fill(413));
    // Far past the limit and its drain allowance, the rest is left unread: the connection lingers after the 413
    // (runtime/http/lingering-close.ts), so that no close resets it under the client still writing.
    const huge = await streamedUploads({
      url: `${adapter.url}/channels/webhook/alerts`,
      headers: { "content-type": "application/json" },
      bytes: 8 * 1024 * 1024,
      attempts: 10,
    });
    expect(huge).toEqual(new Array(10).fill(413));
    expect(broker.events).toHaveLength(0);
  });
});
