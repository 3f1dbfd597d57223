import { describe, expect, it } from "vitest";
import { InFlightError } from "../../clients/memory/run-once.ts";
import { makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { CloudEventError } from "../../eventing/cloudevent/errors.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { encodeBinary } from "../../eventing/cloudevent/http-codec.ts";
import { receiveCloudEvents } from "../../eventing/cloudevent/receive.ts";
import { EventRefused, type EventTrust } from "../../eventing/trust/event-trust.ts";
import { PlatformError } from "../../functions/channels/toolkit/platform-error.ts";
import { ApiError, errorBody, INTERNAL_ERROR, toApiError } from "../../runtime/api-error.ts";
import { createFunctionApp, type Readiness } from "../../runtime/app.ts";
import type { Logger } from "../../runtime/log.ts";
import { serve } from "../../runtime/serve.ts";
import { streamedUploads } from "../support/streaming-upload.ts";

const event = makeEvent(T.PING, { source: "/test", data: {} });
/** These tests are about the route, not about who signed: every event passes (eventing/trust has its own tests). */
const ACCEPT_ALL: EventTrust = { check: () => {} };

function delivery(body: CloudEvent, url = "http://function/"): Request {
  const encoded = encodeBinary(body);
  return new Request(url, { method: "POST", headers: encoded.headers, body: encoded.body });
}

async function bodyOf(response: Response): Promise<unknown> {
  return JSON.parse(await response.text());
}

/** A logger that records what reached it. */
function recordingLogger(): { logger: Logger; errors: unknown[] } {
  const errors: unknown[] = [];
  const logger = { error: (fields: unknown) => errors.push(fields) } as unknown as Logger;
  return { logger, errors };
}

describe("probes", () => {
  it("answers liveness and, without a check, readiness", async () => {
    const app = createFunctionApp();
    const live = await app.request("/healthz");
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ ok: true });
    const ready = await app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it("answers readiness from the function's check: 503 with its fields while not ready", async () => {
    let readiness: Readiness = { ready: false, backend: "redis", reason: "the store does not answer" };
    const app = createFunctionApp({ ready: async () => readiness });
    const down = await app.request("/readyz");
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual(readiness);
    expect((await app.request("/healthz")).status).toBe(200);
    readiness = { ready: true, backend: "redis" };
    const up = await app.request("/readyz");
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ready: true, backend: "redis" });
  });
});

describe("the delivery route", () => {
  it("hands the decoded event to the function and answers 200 with no body", async () => {
    const seen: CloudEvent[] = [];
    const app = createFunctionApp({
      env: {},
      delivery: receiveCloudEvents(
        (received) => {
          seen.push(received);
        },
        { trust: ACCEPT_ALL },
      ),
    });
    const response = await app.fetch(delivery(event));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
    expect(seen.map((e) => [e.attributes.id, e.attributes.type])).toEqual([[event.attributes.id, T.PING]]);
  });

  it("answers with the function's own Response when it gives one", async () => {
    const app = createFunctionApp({
      env: {},
      delivery: receiveCloudEvents(async () => new Response(null, { status: 202 }), { trust: ACCEPT_ALL }),
    });
    expect((await app.fetch(delivery(event))).status).toBe(202);
  });

  /** A function taking deliveries up to `maxBodyBytes`, counting those it handled. */
  function countingApp(maxBodyBytes: number) {
    const counted = { handled: 0 };
    const app = createFunctionApp({
      env: {},
      delivery: receiveCloudEvents(
        () => {
          counted.handled += 1;
        },
        { maxBodyBytes, trust: ACCEPT_ALL },
      ),
    });
    return { app, counted };
  }

  it("refuses what is not a CloudEvent with 400 and a body past the function's limit with 413", async () => {
    const { app, counted } = countingApp(64);
    const notAnEvent = await app.request("/", { method: "POST", body: "{}" });
    expect(notAnEvent.status).toBe(400);
    expect(((await bodyOf(notAnEvent)) as { error: { code: string } }).error.code).toBe("invalid_event");
    const large = makeEvent(T.PING, { source: "/test", data: { pad: "x".repeat(200) } });
    const tooLarge = await app.fetch(delivery(large));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("connection")).toBe("close");
    expect(((await bodyOf(tooLarge)) as { error: { code: string } }).error.code).toBe("payload_too_large");
    expect(counted.handled).toBe(0);
  });

  it("answers a streamed body over the limit, somewhat or far, 413 every time over real HTTP, never a reset", async () => {
    // The body is read past the limit (up to the limit again) and dropped before the answer: answered at the
    // limit, the client still writing met a closed socket and Node's fetch failed instead of showing the 413.
    const { app, counted } = countingApp(64 * 1024);
    const served = await serve(app, { port: 0, host: "127.0.0.1" });
    try {
      const outcomes = await streamedUploads({
        url: `${served.url}/`,
        headers: encodeBinary(event).headers,
        bytes: 96 * 1024,
        pauseAfter: 70 * 1024,
        attempts: 20,
      });
      expect(outcomes).toEqual(new Array(20).fill(413));
      // 8 MiB, far past the limit and its drain allowance: the rest is left unread, and the connection lingers after
      // the 413 (runtime/http/lingering-close.ts, hooked in by serve()), so that no close resets it under the client.
      const huge = { url: `${served.url}/`, headers: encodeBinary(event).headers, bytes: 8 * 1024 * 1024 };
      expect(await streamedUploads({ ...huge, attempts: 30 })).toEqual(new Array(30).fill(413));
      expect(await streamedUploads({ ...huge, declareLength: true, attempts: 10 })).toEqual(new Array(10).fill(413));
      expect(counted.handled).toBe(0);
    } finally {
      await served.shutdown();
    }
  });

  it("answers an event the trust check refuses with its 403, before the function sees it", async () => {
    let handled = 0;
    const refuseAll: EventTrust = {
      check: () => {
        throw new EventRefused("unsigned", "the event is not signed");
      },
    };
    const app = createFunctionApp({
      env: {},
      delivery: receiveCloudEvents(
        () => {
          handled += 1;
        },
        { trust: refuseAll },
      ),
    });
    const response = await app.fetch(delivery(event));
    expect(response.status).toBe(403);
    expect(await bodyOf(response)).toEqual({
      error: { code: "event_refused", message: "the event is not signed", reason: "unsigned" },
    });
    expect(handled).toBe(0);
  });

  it("answers other methods on / with 405, and / is not served without a delivery", async () => {
    const app = createFunctionApp({ env: {}, delivery: receiveCloudEvents(() => undefined, { trust: ACCEPT_ALL }) });
    const get = await app.request("/");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await createFunctionApp().fetch(delivery(event))).status).toBe(404);
  });
});

describe("errors", () => {
  it("answers an ApiError with its status, headers and body, on any route", async () => {
    const app = createFunctionApp();
    app.get("/conflict", () => {
      throw new ApiError(412, "version_mismatch", "another version", {
        retryAfterSeconds: 2.2,
        headers: { "x-extra": "1" },
        details: { currentVersion: 7 },
      });
    });
    const response = await app.request("/conflict");
    expect(response.status).toBe(412);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("retry-after")).toBe("3");
    expect(response.headers.get("x-extra")).toBe("1");
    expect(await bodyOf(response)).toEqual({
      error: { code: "version_mismatch", message: "another version", currentVersion: 7 },
    });
  });

  it("answers an unknown route with 404 in the same format", async () => {
    const response = await createFunctionApp().request("/nowhere");
    expect(response.status).toBe(404);
    expect(await bodyOf(response)).toEqual({ error: { code: "not_found", message: "no such route" } });
  });

  it("answers a failure nothing names with 500, logging it but never sending its message", async () => {
    const { logger, errors } = recordingLogger();
    const app = createFunctionApp({
      env: {},
      logger,
      delivery: receiveCloudEvents(() => Promise.reject(new Error("secret")), { trust: ACCEPT_ALL }),
    });
    const response = await app.fetch(delivery(event));
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain("secret");
    expect(JSON.parse(text)).toEqual({ error: { code: "internal", message: "internal error" } });
    expect(errors).toHaveLength(1);
  });

  it("lets the function name its own errors (answerFor), without logging them", async () => {
    class StoreDown extends Error {}
    const { logger, errors } = recordingLogger();
    const app = createFunctionApp({
      logger,
      answerFor: (error) =>
        error instanceof StoreDown ? new ApiError(503, "unavailable", "later", { retryAfterSeconds: 1 }) : undefined,
    });
    app.get("/down", () => {
      throw new StoreDown("connection refused to 10.0.0.1");
    });
    const response = await app.request("/down");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await bodyOf(response)).toEqual({ error: { code: "unavailable", message: "later" } });
    expect(errors).toHaveLength(0);
  });

  it("writes another body where the function asks for one", async () => {
    const app = createFunctionApp({
      errorBody: (error, c) => (c.req.path.startsWith("/v1/") ? { message: error.message } : errorBody(error)),
    });
    expect(await bodyOf(await app.request("/v1/x"))).toEqual({ message: "no such route" });
    expect(await bodyOf(await app.request("/x"))).toEqual({ error: { code: "not_found", message: "no such route" } });
  });
});

describe("toApiError: the one mapping", () => {
  it("maps a CloudEventError to its 4xx, closing the connection on 413", () => {
    const invalid = toApiError(new CloudEventError(400, "no ce-id"));
    expect([invalid.status, invalid.code, invalid.message, invalid.headers]).toEqual([
      400,
      "invalid_event",
      "no ce-id",
      {},
    ]);
    const large = toApiError(new CloudEventError(413, "too large"));
    expect([large.status, large.code, large.headers]).toEqual([413, "payload_too_large", { connection: "close" }]);
  });

  it("maps an attempt already in flight to 409, which the broker retries", () => {
    const inFlight = toApiError(new InFlightError("out:slack:1"));
    expect([inFlight.status, inFlight.code, inFlight.retryable]).toEqual([409, "in_flight", true]);
  });

  it("maps a platform's failure to its delivery status with Retry-After", () => {
    const limited = toApiError(new PlatformError("slack", "rate_limited", "slow down", { retryAfterMs: 12_500 }));
    expect([limited.status, limited.headers["retry-after"], limited.retryable]).toEqual([429, "13", true]);
    const refused = toApiError(new PlatformError("slack", "rejected", "x", { code: "channel_not_found" }));
    expect([refused.status, refused.retryable]).toEqual([422, false]);
    expect(errorBody(refused)).toEqual({
      error: { code: "rejected", message: "slack: x", platformCode: "channel_not_found" },
    });
    expect(toApiError(new PlatformError("slack", "auth", "x")).status).toBe(403);
    expect(toApiError(new PlatformError("slack", "unavailable", "x")).status).toBe(503);
  });

  it("maps anything else to the one internal error", () => {
    expect(toApiError(new Error("db password is hunter2"))).toBe(INTERNAL_ERROR);
    expect(toApiError("a string")).toBe(INTERNAL_ERROR);
    expect(INTERNAL_ERROR.message).toBe("internal error");
  });

  it("says which statuses are worth retrying", () => {
    const retryable = [400, 401, 403, 404, 408, 409, 410, 413, 422, 429, 500, 503].filter(
      (status) => new ApiError(status, "x", "x").retryable,
    );
    expect(retryable).toEqual([408, 409, 429, 500, 503]);
  });
});
