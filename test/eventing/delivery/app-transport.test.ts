import { afterEach, describe, expect, it, vi } from "vitest";
import { createAppTransport } from "../../../eventing/delivery/app-transport.ts";

/**
 * The in-process transport's per-attempt timer: it must end with the attempt. A timer that outlives its delivery
 * keeps the attempt's signal, request and listeners alive for the whole timeout, so memory grows with deliveries/s.
 */
afterEach(() => {
  vi.useRealTimers();
});

const answering = createAppTransport(() => ({ fetch: async () => new Response("ok") }));

describe("app transport timers", () => {
  it("leaves no timer behind once a delivery is answered", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    for (let i = 0; i < 20; i++) {
      const answer = await answering({ url: "http://a/", headers: {}, timeoutMs: 60_000, maxResponseBytes: 100 });
      expect(answer.status).toBe(200);
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind when the caller aborts, and reports the abort, not a timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const hanging = createAppTransport(() => ({ fetch: () => new Promise<Response>(() => undefined) }));
    const controller = new AbortController();
    const attempt = hanging({
      url: "http://a/",
      headers: {},
      timeoutMs: 60_000,
      maxResponseBytes: 100,
      signal: controller.signal,
    });
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ kind: "aborted" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("times out an app that never answers by the attempt's own timer (the one the other cases see cleared)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const hanging = createAppTransport(() => ({ fetch: () => new Promise<Response>(() => undefined) }));
    const attempt = hanging({ url: "http://a/", headers: {}, timeoutMs: 60_000, maxResponseBytes: 100 });
    const settled = expect(attempt).rejects.toMatchObject({ kind: "timeout" });
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60_000);
    await settled;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("refuses at once when the caller's signal is already aborted", async () => {
    await expect(
      answering({ url: "http://a/", headers: {}, maxResponseBytes: 100, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ kind: "aborted" });
  });
});
