import { afterEach, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../cli/dev/start-dev.ts";
import { brokerWithTrigger, postBinary, type Subscriber, startSubscriber, startTestRuntime } from "./helpers.ts";

describe("smoke", () => {
  let runtime: DevRuntime | undefined;
  let subscriber: Subscriber | undefined;
  afterEach(async () => {
    await runtime?.shutdown();
    await subscriber?.close();
  });
  it("delivers", async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(brokerWithTrigger(subscriber.url));
    const response = await postBinary(`${runtime.url}/test/default`, { body: '{"a":1}' });
    expect(response.status).toBe(202);
    const [got] = await subscriber.waitFor(1);
    expect(got!.headers["ce-id"]).toBe("event-1");
    expect(got!.body.toString()).toBe('{"a":1}');
  });
});
