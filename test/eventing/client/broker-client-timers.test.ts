import { afterEach, describe, expect, it, vi } from "vitest";
import { BrokerClient } from "../../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";

/**
 * An emit through an injected fetch (the agent under `knclaw dev` and in tests) has one timer per attempt, cleared as
 * soon as the broker answered: a timer that outlives its emit keeps the request alive for the whole timeout, so
 * memory would grow with events/s.
 */
afterEach(() => {
  vi.useRealTimers();
});

const event = (id: string): CloudEvent => ({
  attributes: { specversion: "1.0", id, source: "/test", type: "dev.knclaw.test" },
  data: new TextEncoder().encode("{}"),
});

describe("broker client timers", () => {
  it("leaves no timer behind once the broker answered", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const accepted = (async () => new Response(null, { status: 202 })) as unknown as typeof fetch;
    const client = new BrokerClient({ sink: "http://broker/ns/default", fetch: accepted, timeoutMs: 30_000 });
    for (let i = 0; i < 10; i++) await client.emit(event(`e${i}`));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("still ends an attempt the broker never answers, by that timer, as a timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const hanging = ((_url: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) =>
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      )) as unknown as typeof fetch;
    const client = new BrokerClient({ sink: "http://broker/ns/default", fetch: hanging, timeoutMs: 1_000, retries: 0 });
    const emitted = expect(client.emit(event("slow"))).rejects.toThrow(/TimeoutError/);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    await emitted;
    expect(vi.getTimerCount()).toBe(0);
  });
});
