import { describe, expect, it } from "vitest";
import {
  brokerWithTrigger,
  postBinary,
  type Reply,
  type Responder,
  startSubscriber,
  testResources,
} from "../../support/dev-platform.ts";

/** docs/knative-semantics.md, "Delivery", over HTTP: Trigger -> test server, dead-letter sink -> test server. */
describe("delivery", () => {
  const { defer, subscriberWith, runtimeWith } = testResources();

  const statuses =
    (...list: number[]): Responder =>
    (_request, index) => ({ status: list[Math.min(index, list.length - 1)]! });

  /** A Trigger whose own delivery has the given fields, and a dead-letter sink server. */
  async function withDeliveryAndDls(delivery: string, responder: Responder, dlsResponder?: Responder) {
    const sub = await subscriberWith(responder);
    const dls = await subscriberWith(dlsResponder);
    const runtime = await runtimeWith(
      brokerWithTrigger(
        sub.url,
        `  delivery:\n    deadLetterSink: { uri: "${dls.url}/dls" }\n${delivery.replace(/^/gm, "    ")}`,
      ),
    );
    return { sub, dls, runtime, ingress: `${runtime.url}/test/default` };
  }

  it("delivers in binary mode by default", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(brokerWithTrigger(sub.url));
    await postBinary(`${runtime.url}/test/default`, { id: "bin", body: '{"a":1}', extra: { subject: "s" } });
    const got = await sub.waitForEvent("bin");
    expect(got.headers["ce-specversion"]).toBe("1.0");
    expect(got.headers["ce-subject"]).toBe("s");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.body.toString()).toBe('{"a":1}');
  });

  it("delivers structured when delivery.format is json", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(brokerWithTrigger(sub.url, "  delivery: { format: json }"));
    await postBinary(`${runtime.url}/test/default`, { id: "json-format", body: '{"a":1}' });
    const got = await sub.waitForEvent("json-format");
    expect(String(got.headers["content-type"])).toMatch(/^application\/cloudevents\+json/);
    expect(got.headers["ce-id"]).toBeUndefined();
    const event = JSON.parse(got.body.toString()) as Record<string, unknown>;
    expect(event).toMatchObject({
      id: "json-format",
      specversion: "1.0",
      datacontenttype: "application/json",
      data: { a: 1 },
    });
  });

  it("carries Prefer: reply and Kn-Namespace", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(brokerWithTrigger(sub.url));
    await postBinary(`${runtime.url}/test/default`, { id: "prefer" });
    const got = await sub.waitForEvent("prefer");
    expect(got.headers.prefer).toBe("reply");
    expect(got.headers["kn-namespace"]).toBe("test");
  });

  it("passes through only x-request-id, retry-after, knative-* and tracing headers", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(brokerWithTrigger(sub.url));
    await postBinary(`${runtime.url}/test/default`, {
      id: "headers",
      headers: {
        "x-request-id": "req-1",
        "retry-after": "5",
        "knative-custom": "k",
        "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        authorization: "Bearer secret-token",
        cookie: "a=b",
        "x-custom": "no",
      },
    });
    const got = await sub.waitForEvent("headers");
    expect(got.headers["x-request-id"]).toBe("req-1");
    expect(got.headers["retry-after"]).toBe("5");
    expect(got.headers["knative-custom"]).toBe("k");
    expect(got.headers["x-b3-traceid"]).toBe("80f198ee56343ba864fe8b2a57d3eff7");
    expect(got.headers.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers.cookie).toBeUndefined();
    expect(got.headers["x-custom"]).toBeUndefined();
  });

  it("retry: total attempts = retry + 1, then the dead-letter sink", async () => {
    const { sub, dls, runtime, ingress } = await withDeliveryAndDls("retry: 3", statuses(503));
    await postBinary(ingress, { id: "retry-3" });
    await dls.waitForEvent("retry-3");
    await runtime.idle();
    expect(sub.received).toHaveLength(4);
    expect(runtime.counters).toMatchObject({ retried: 3, deadLettered: 1, delivered: 0 });
  });

  it("exponential backoff waits d, 2d, 4d before retries 1, 2, 3", async () => {
    const { sub, dls, ingress } = await withDeliveryAndDls(
      "retry: 3\nbackoffPolicy: exponential\nbackoffDelay: PT0.1S",
      statuses(503),
    );
    await postBinary(ingress, { id: "exp" });
    await dls.waitForEvent("exp");
    const gaps = sub.received.slice(1).map((r, i) => r.at - sub.received[i]!.at);
    // Lower bounds only (timers never fire early by more than a millisecond); the exact schedule is unit-tested.
    expect(gaps[0]).toBeGreaterThanOrEqual(99);
    expect(gaps[1]).toBeGreaterThanOrEqual(199);
    expect(gaps[2]).toBeGreaterThanOrEqual(399);
  });

  it("linear backoff waits 0, d, 2d before retries 1, 2, 3", async () => {
    const { sub, dls, ingress } = await withDeliveryAndDls(
      "retry: 3\nbackoffPolicy: linear\nbackoffDelay: PT0.15S",
      statuses(503),
    );
    await postBinary(ingress, { id: "lin" });
    await dls.waitForEvent("lin");
    const gaps = sub.received.slice(1).map((r, i) => r.at - sub.received[i]!.at);
    expect(gaps[1]).toBeGreaterThanOrEqual(149);
    expect(gaps[2]).toBeGreaterThanOrEqual(299);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  });

  it("retries immediately when backoffPolicy or backoffDelay is missing", async () => {
    // A one-minute delay that must not be applied: were it, this test would run into its timeout.
    const { sub, dls, ingress } = await withDeliveryAndDls("retry: 2\nbackoffDelay: PT60S", statuses(503));
    await postBinary(ingress, { id: "immediate" });
    await dls.waitForEvent("immediate");
    expect(sub.received).toHaveLength(3);
  });

  it("timeout applies per attempt: a hung attempt fails and the retry succeeds", async () => {
    let release: (() => void) | undefined;
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    defer(async () => release?.());
    const { sub, dls, runtime, ingress } = await withDeliveryAndDls(
      "retry: 3\ntimeout: PT0.3S",
      async (_r, index): Promise<Reply> => {
        if (index === 0) await hung;
        return { status: 200 };
      },
    );
    await postBinary(ingress, { id: "timeout" });
    await sub.waitFor(2);
    await runtime.idle();
    // The first attempt never got an answer; a later one did (a loaded machine may need more than one).
    expect(runtime.counters).toMatchObject({ delivered: 1, deadLettered: 0, dropped: 0 });
    expect(runtime.counters.retried).toBeGreaterThanOrEqual(1);
    expect(dls.received).toHaveLength(0);
  });

  it("a Trigger's delivery replaces the Broker's wholesale (its dead-letter sink wins)", async () => {
    const sub = await subscriberWith(statuses(500));
    const brokerDls = await subscriberWith();
    const triggerDls = await subscriberWith();
    const runtime = await runtimeWith(
      brokerWithTrigger(
        sub.url,
        `  delivery: { retry: 1, deadLetterSink: { uri: "${triggerDls.url}" } }`,
        `spec:\n  delivery: { retry: 4, deadLetterSink: { uri: "${brokerDls.url}" } }`,
      ),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "trigger-wins" });
    await triggerDls.waitForEvent("trigger-wins");
    await runtime.idle();
    expect(sub.received).toHaveLength(2);
    expect(brokerDls.received).toHaveLength(0);
  });

  it("a Trigger without delivery inherits the Broker's, dead-letter sink included", async () => {
    const sub = await subscriberWith(statuses(500));
    const brokerDls = await subscriberWith();
    const runtime = await runtimeWith(
      brokerWithTrigger(sub.url, "", `spec:\n  delivery: { retry: 2, deadLetterSink: { uri: "${brokerDls.url}" } }`),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "inherit" });
    await brokerDls.waitForEvent("inherit");
    expect(sub.received).toHaveLength(3);
  });

  it("with nothing set the broker default applies: 10 retries, exponential from 0.2 s", async () => {
    const sub = await subscriberWith(statuses(503, 503, 200));
    const runtime = await runtimeWith(brokerWithTrigger(sub.url));
    await postBinary(`${runtime.url}/test/default`, { id: "default-delivery" });
    await sub.waitFor(3);
    await runtime.idle();
    expect(runtime.brokers[0]!.broker.getTriggers()[0]!.delivery).toMatchObject({
      retry: 10,
      backoffPolicy: "exponential",
      backoffDelayMs: 200,
    });
    expect(sub.received[1]!.at - sub.received[0]!.at).toBeGreaterThanOrEqual(199);
    expect(sub.received[2]!.at - sub.received[1]!.at).toBeGreaterThanOrEqual(399);
    expect(runtime.counters).toMatchObject({ delivered: 1, retried: 2 });
  });

  for (const status of [404, 408, 409, 429, 500, 502, 503, 504]) {
    it(`retries HTTP ${status}`, async () => {
      const { sub, runtime, ingress } = await withDeliveryAndDls("retry: 1", statuses(status, 200));
      await postBinary(ingress, { id: `retry-${status}` });
      await sub.waitFor(2);
      await runtime.idle();
      expect(runtime.counters).toMatchObject({ delivered: 1, retried: 1 });
    });
  }

  for (const status of [400, 401, 403, 405, 410, 413, 422, 301]) {
    it(`does not retry HTTP ${status}: straight to the dead-letter sink`, async () => {
      const { sub, dls, runtime, ingress } = await withDeliveryAndDls("retry: 5", statuses(status));
      await postBinary(ingress, { id: `final-${status}` });
      const dead = await dls.waitForEvent(`final-${status}`);
      await runtime.idle();
      expect(sub.received).toHaveLength(1);
      expect(dead.headers["ce-knativeerrorcode"]).toBe(String(status));
    });
  }

  it("retries connection errors, then dead-letters with code 500 and the dispatch error", async () => {
    const closed = await startSubscriber();
    const deadUrl = closed.url;
    await closed.close();
    const dls = await subscriberWith();
    const runtime = await runtimeWith(
      brokerWithTrigger(`${deadUrl}/gone`, `  delivery: { retry: 2, deadLetterSink: { uri: "${dls.url}" } }`),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "conn-error" });
    const dead = await dls.waitForEvent("conn-error");
    await runtime.idle();
    expect(runtime.counters.retried).toBe(2);
    expect(dead.headers["ce-knativeerrorcode"]).toBe("500");
    expect(dead.headers["ce-knativeerrordest"]).toBe(`${deadUrl}/gone`);
    expect(Buffer.from(String(dead.headers["ce-knativeerrordata"]), "base64").toString()).toContain("dispatch error");
  });

  it("a 2xx whose non-empty body is not a CloudEvent fails (502) and is retried", async () => {
    const { sub, dls, runtime, ingress } = await withDeliveryAndDls("retry: 1", () => ({
      status: 200,
      body: "thanks!",
      headers: { "content-type": "text/plain" },
    }));
    await postBinary(ingress, { id: "bad-body" });
    const dead = await dls.waitForEvent("bad-body");
    await runtime.idle();
    expect(sub.received).toHaveLength(2);
    expect(dead.headers["ce-knativeerrorcode"]).toBe("502");
    expect(Buffer.from(String(dead.headers["ce-knativeerrordata"]), "base64").toString()).toBe("thanks!");
  });

  it("dead-lettering sends the original event with knativeerrordest, knativeerrorcode and knativeerrordata (<= 1024 chars)", async () => {
    const longBody = "e".repeat(2000);
    const { sub, dls, ingress } = await withDeliveryAndDls("retry: 0", () => ({ status: 422, body: longBody }));
    await postBinary(ingress, { id: "dlq", body: '{"keep":"me"}', extra: { subject: "orig" } });
    const dead = await dls.waitForEvent("dlq");
    expect(dead.headers["ce-knativeerrordest"]).toBe(`${sub.url}/`);
    expect(dead.headers["ce-knativeerrorcode"]).toBe("422");
    const data = String(dead.headers["ce-knativeerrordata"]);
    expect(data).toHaveLength(1024);
    expect(data).toBe(Buffer.from(longBody).toString("base64").slice(0, 1024));
    expect(dead.headers["ce-subject"]).toBe("orig");
    expect(dead.headers["ce-type"]).toBe("dev.knclaw.test");
    expect(dead.body.toString()).toBe('{"keep":"me"}');
    expect(dead.headers.prefer).toBeUndefined();
  });

  it("the dead-letter delivery uses the same retry settings", async () => {
    const { dls, runtime, ingress } = await withDeliveryAndDls("retry: 2", statuses(400), statuses(503, 503, 200));
    await postBinary(ingress, { id: "dls-retry" });
    await dls.waitFor(3);
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ deadLettered: 1, retried: 2 });
  });

  it("without a dead-letter sink a failed event is dropped (and counted)", async () => {
    const sub = await subscriberWith(statuses(400));
    const runtime = await runtimeWith(brokerWithTrigger(sub.url, "  delivery: { retry: 3 }"));
    await postBinary(`${runtime.url}/test/default`, { id: "drop" });
    await sub.waitFor(1);
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ dropped: 1, deadLettered: 0, delivered: 0 });
  });
});
