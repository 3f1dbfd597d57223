import { describe, expect, it } from "vitest";
import type { DeliveryPolicy } from "../../../eventing/delivery/delivery-policy.ts";
import { attemptDelivery } from "../../../eventing/delivery/dispatcher.ts";
import { type DeliveryContext, deliverWithRetries } from "../../../eventing/delivery/retry-loop.ts";
import { type Transport, TransportError, type TransportRequest } from "../../../eventing/delivery/transport.ts";

/** The retry loop and the dispatcher against a scripted in-memory transport; sleeps are recorded, not waited. */
const event = {
  attributes: { specversion: "1.0", id: "e1", source: "/s", type: "t" },
  data: new TextEncoder().encode('{"a":1}'),
};

type Answer = { status: number; headers?: Record<string, string>; body?: string } | "network" | "timeout";

function scripted(answers: Answer[]): Transport & { calls: TransportRequest[] } {
  const calls: TransportRequest[] = [];
  const transport = (async (request: TransportRequest) => {
    calls.push(request);
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)]!;
    if (answer === "network") throw new TransportError("network", "connect ECONNREFUSED");
    if (answer === "timeout") throw new TransportError("timeout", "no complete response within 100 ms");
    return {
      status: answer.status,
      headers: new Headers(answer.headers),
      body: new TextEncoder().encode(answer.body ?? ""),
    };
  }) as unknown as Transport & { calls: TransportRequest[] };
  transport.calls = calls;
  return transport;
}

function context(overrides: Partial<DeliveryContext> = {}) {
  const sleeps: number[] = [];
  const ctx: DeliveryContext = {
    headers: { prefer: "reply" },
    deadLetterHeaders: {},
    maxResponseBytes: 1024,
    sleep: async (ms) => {
      sleeps.push(ms);
      return true;
    },
    ...overrides,
  };
  return { ctx, sleeps };
}

const policy = (p: Partial<DeliveryPolicy>): DeliveryPolicy => ({ retry: 0, format: "binary", ...p });

describe("backoff schedule", () => {
  it("exponential: d, 2d, 4d, 8d", async () => {
    const { ctx, sleeps } = context();
    await deliverWithRetries(
      scripted([{ status: 503 }]),
      "http://sub",
      event,
      policy({ retry: 4, backoffPolicy: "exponential", backoffDelayMs: 100 }),
      ctx,
    );
    expect(sleeps).toEqual([100, 200, 400, 800]);
  });
  it("linear: 0, d, 2d, 3d (the first retry is immediate)", async () => {
    const { ctx, sleeps } = context();
    const transport = scripted([{ status: 503 }]);
    await deliverWithRetries(
      transport,
      "http://sub",
      event,
      policy({ retry: 4, backoffPolicy: "linear", backoffDelayMs: 100 }),
      ctx,
    );
    expect(sleeps).toEqual([100, 200, 300]);
    expect(transport.calls).toHaveLength(5);
  });
  it("no policy or no delay: retries are immediate", async () => {
    for (const p of [policy({ retry: 3, backoffDelayMs: 100 }), policy({ retry: 3, backoffPolicy: "exponential" })]) {
      const { ctx, sleeps } = context();
      const transport = scripted([{ status: 500 }]);
      await deliverWithRetries(transport, "http://sub", event, p, ctx);
      expect(sleeps).toEqual([]);
      expect(transport.calls).toHaveLength(4);
    }
  });
});

describe("retry loop", () => {
  it("stops at the first success", async () => {
    const { ctx } = context();
    const transport = scripted([{ status: 500 }, { status: 429 }, { status: 202 }]);
    const outcome = await deliverWithRetries(transport, "http://sub", event, policy({ retry: 5 }), ctx);
    expect(outcome).toEqual({ kind: "delivered", attempts: 3, status: 202 });
  });
  it("does not retry a final status and dead-letters with the error extensions", async () => {
    const { ctx } = context();
    const transport = scripted([{ status: 401, body: "no" }, { status: 200 }]);
    const outcome = await deliverWithRetries(
      transport,
      "http://sub/x",
      event,
      policy({ retry: 5, deadLetterSink: "http://dls" }),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 1, status: 401 });
    expect(transport.calls.map((c) => c.url)).toEqual(["http://sub/x", "http://dls"]);
    expect(transport.calls[1]!.headers).toMatchObject({
      "ce-knativeerrordest": "http://sub/x",
      "ce-knativeerrorcode": "401",
      "ce-knativeerrordata": "bm8=",
    });
    expect(transport.calls[1]!.headers.prefer).toBeUndefined();
  });
  it("drops when there is no dead-letter sink, or when the sink fails too", async () => {
    const { ctx } = context();
    expect(await deliverWithRetries(scripted([{ status: 400 }]), "http://sub", event, policy({}), ctx)).toMatchObject({
      kind: "dropped",
    });
    const failing = await deliverWithRetries(
      scripted([{ status: 400 }, { status: 500 }]),
      "http://sub",
      event,
      policy({ deadLetterSink: "http://dls" }),
      ctx,
    );
    expect(failing.kind).toBe("dropped");
    expect(failing.kind === "dropped" && failing.reason).toContain("dead-letter sink failed");
  });
  it("counts retries, including those against the dead-letter sink", async () => {
    let retries = 0;
    let dlsRetries = 0;
    const { ctx } = context({ onRetry: () => retries++, onDeadLetterRetry: () => dlsRetries++ });
    await deliverWithRetries(
      scripted([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 200 }]),
      "http://sub",
      event,
      policy({ retry: 2, deadLetterSink: "http://dls" }),
      ctx,
    );
    expect(retries).toBe(2);
    expect(dlsRetries).toBe(1);
  });
  it("an aborted delivery stops without dead-lettering", async () => {
    const abort = new AbortController();
    const { ctx } = context({
      signal: abort.signal,
      sleep: async () => {
        abort.abort();
        return false;
      },
    });
    const transport = scripted([{ status: 503 }]);
    const outcome = await deliverWithRetries(
      transport,
      "http://sub",
      event,
      policy({ retry: 5, backoffPolicy: "linear", backoffDelayMs: 10, deadLetterSink: "http://dls" }),
      ctx,
    );
    expect(outcome.kind).toBe("dropped");
    expect(transport.calls.every((c) => c.url === "http://sub")).toBe(true);
  });
  it("a refused reply fails the delivery: retried when retryable, dead-lettered naming the broker", async () => {
    const replying: Answer = {
      status: 200,
      headers: { "ce-specversion": "1.0", "ce-id": "r", "ce-source": "/r", "ce-type": "reply" },
    };
    let offered = 0;
    const { ctx } = context({
      onReply: () => {
        offered++;
        return {
          accepted: false,
          status: 429,
          retryable: true,
          reason: "queue full",
          destination: "http://broker/ns/b",
        };
      },
    });
    const transport = scripted([replying]);
    const outcome = await deliverWithRetries(
      transport,
      "http://sub",
      event,
      policy({ retry: 2, deadLetterSink: "http://dls" }),
      ctx,
    );
    expect(offered).toBe(3);
    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 3, status: 429 });
    expect(transport.calls[3]!.headers["ce-knativeerrordest"]).toBe("http://broker/ns/b");
  });
  it("passes the per-attempt timeout and the response size limit to the transport", async () => {
    const { ctx } = context();
    const transport = scripted([{ status: 200 }]);
    await deliverWithRetries(transport, "http://sub", event, policy({ timeoutMs: 1234 }), ctx);
    expect(transport.calls[0]).toMatchObject({ timeoutMs: 1234, maxResponseBytes: 1024 });
  });
});

describe("dispatcher: one attempt", () => {
  const attempt = (answer: Answer, format: "binary" | "structured" = "binary") =>
    attemptDelivery(scripted([answer]), "http://sub", event, { format, headers: {}, maxResponseBytes: 1024 });

  it("a 2xx without a body is a success without a reply", async () => {
    expect(await attempt({ status: 204 })).toEqual({ ok: true, status: 204 });
  });
  it("a 2xx carrying an event is a reply (binary or structured)", async () => {
    const binary = await attempt({
      status: 202,
      headers: { "ce-specversion": "1.0", "ce-id": "r", "ce-source": "/r", "ce-type": "t", "x-request-id": "q" },
    });
    expect(binary.ok && binary.reply?.attributes.id).toBe("r");
    expect(binary.ok && binary.replyHeaders).toEqual({ "x-request-id": "q" });
    const structured = await attempt({
      status: 200,
      headers: { "content-type": "application/cloudevents+json" },
      body: JSON.stringify({ specversion: "1.0", id: "s", source: "/r", type: "t" }),
    });
    expect(structured.ok && structured.reply?.attributes.id).toBe("s");
  });
  it("a 2xx whose body is not an event, or is a broken event, fails with 502 and is retryable", async () => {
    expect(await attempt({ status: 200, body: "ok" })).toMatchObject({ ok: false, status: 502, retryable: true });
    expect(await attempt({ status: 200, headers: { "ce-specversion": "1.0" } })).toMatchObject({
      ok: false,
      status: 502,
      retryable: true,
    });
  });
  it("classifies statuses as Knative's retries.go does", async () => {
    for (const status of [404, 408, 409, 429, 500, 503, 599])
      expect(await attempt({ status }), String(status)).toMatchObject({ ok: false, retryable: true });
    for (const status of [300, 400, 401, 403, 405, 410, 413, 422])
      expect(await attempt({ status }), String(status)).toMatchObject({ ok: false, retryable: false });
  });
  it("no response (connection error or timeout) is retryable, with the dispatch error as body", async () => {
    for (const answer of ["network", "timeout"] as const) {
      const result = await attempt(answer);
      expect(result).toMatchObject({ ok: false, status: undefined, retryable: true });
      expect(!result.ok && new TextDecoder().decode(result.body)).toMatch(/^dispatch error: /);
    }
  });
  it("encodes binary by default and structured on request", async () => {
    const transport = scripted([{ status: 200 }]);
    await attemptDelivery(transport, "http://sub", event, {
      format: "binary",
      headers: { prefer: "reply" },
      maxResponseBytes: 10,
    });
    await attemptDelivery(transport, "http://sub", event, { format: "structured", headers: {}, maxResponseBytes: 10 });
    expect(transport.calls[0]!.headers).toMatchObject({ "ce-id": "e1", prefer: "reply" });
    expect(transport.calls[1]!.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
  });
});

describe("retry state: stored before each wait, resumed after a restart", () => {
  const exponential = policy({
    retry: 3,
    backoffPolicy: "exponential",
    backoffDelayMs: 100,
    deadLetterSink: "http://dls",
  });

  it("reports the attempt count and due time before each wait, and the move to the dead-letter sink", async () => {
    const progress: unknown[] = [];
    const { ctx } = context({ onProgress: (p) => void progress.push(p) });
    const transport = scripted([{ status: 503, body: "busy" }, { status: 503, body: "busy" }, { status: 503 }]);
    const before = Date.now();
    await deliverWithRetries(transport, "http://sub", event, policy({ ...exponential, retry: 1 }), ctx);
    // Subscriber: attempt 1, wait, attempt 2; then the sink: attempt 1, wait, attempt 2 (it keeps failing).
    expect(progress).toHaveLength(3);
    const [wait, deadLetter, sinkWait] = progress as [
      { attempts: number; dueAt: number },
      { attempts: number; deadLetter: Record<string, unknown> },
      { attempts: number; deadLetter: Record<string, unknown> },
    ];
    expect(sinkWait.attempts).toBe(1);
    expect(sinkWait.deadLetter).toEqual(deadLetter.deadLetter);
    expect(wait.attempts).toBe(1);
    expect(wait.dueAt).toBeGreaterThanOrEqual(before + 100);
    expect(deadLetter.attempts).toBe(0);
    expect(deadLetter.deadLetter).toMatchObject({
      attempts: 2,
      destination: "http://sub",
      status: 503,
      body: Buffer.from("busy").toString("base64"),
      reason: "HTTP 503",
    });
  });

  it("resumes with the attempts already made: waits out the due time, then only the retries that are left", async () => {
    const { ctx, sleeps } = context({ resume: { attempts: 2, dueAt: Date.now() + 60_000 } });
    const transport = scripted([{ status: 503 }]);
    const outcome = await deliverWithRetries(transport, "http://sub", event, exponential, ctx);
    // Attempts 3 and 4 here (retry: 3 means four in all), then the dead-letter sink (which fails too: 503).
    expect(transport.calls.filter((c) => c.url === "http://sub")).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThan(59_000);
    expect(sleeps[1]).toBe(400);
    expect(outcome).toMatchObject({ kind: "dropped", attempts: 4 });
  });

  it("resumed at the dead-letter stage, it never tries the subscriber again and dead-letters with the stored failure", async () => {
    const deadLetter = {
      attempts: 4,
      destination: "http://sub",
      status: 500,
      body: Buffer.from("boom").toString("base64"),
      reason: "HTTP 500",
    };
    const { ctx } = context({ resume: { attempts: 1, dueAt: 0, deadLetter } });
    const transport = scripted([{ status: 200 }]);
    const outcome = await deliverWithRetries(transport, "http://sub", event, exponential, ctx);
    expect(outcome).toEqual({ kind: "dead-lettered", attempts: 4, status: 500, reason: "HTTP 500" });
    expect(transport.calls.map((c) => c.url)).toEqual(["http://dls"]);
    expect(transport.calls[0]!.headers["ce-knativeerrorcode"]).toBe("500");
    expect(transport.calls[0]!.headers["ce-knativeerrordata"]).toBe(Buffer.from("boom").toString("base64"));
  });
});
