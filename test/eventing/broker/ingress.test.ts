import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import type { EmbeddedBroker } from "../../../eventing/broker/broker.ts";
import { createIngress } from "../../../eventing/broker/ingress.ts";
import { serveIngressOnNode } from "../../../eventing/broker/node-ingress.ts";
import {
  brokerWithTrigger,
  postBinary,
  postStructured,
  receivedAttributes,
  type Subscriber,
  startSubscriber,
  startTestRuntime,
} from "../../support/dev-platform.ts";
import { rawUpload } from "../../support/raw-upload.ts";
import { streamedUploads } from "../../support/streaming-upload.ts";

/** docs/knative-semantics.md, "Ingress", over real HTTP against the knclaw dev listener. */
describe("broker ingress", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;
  let ingress: string;

  beforeAll(async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(brokerWithTrigger(subscriber.url), { maxBodyBytes: 64 * 1024 });
    ingress = `${runtime.url}/test/default`;
  });
  afterAll(async () => {
    await runtime.shutdown();
    await subscriber.close();
  });

  it("OPTIONS answers 200 with Allow and the WebHook headers", async () => {
    const response = await fetch(ingress, { method: "OPTIONS" });
    expect(response.status).toBe(200);
    expect(response.headers.get("allow")).toBe("POST, OPTIONS");
    expect(response.headers.get("webhook-allowed-origin")).toBe("*");
    expect(response.headers.get("webhook-allowed-rate")).toBe("*");
  });

  it("methods other than POST and OPTIONS answer 405", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const response = await fetch(ingress, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("POST, OPTIONS");
    }
  });

  it("POST / answers 404", async () => {
    const response = await postBinary(`${runtime.url}/`);
    expect(response.status).toBe(404);
  });

  it("a path that is not exactly two segments answers 400", async () => {
    for (const path of ["/test", "/test/default/extra", "/a//b", "/test/default/x/y"]) {
      const response = await postBinary(`${runtime.url}${path}`);
      expect(response.status, path).toBe(400);
      expect(await response.text()).toContain("/<namespace>/<broker>");
    }
  });

  it("an unknown namespace or broker answers 404", async () => {
    expect((await postBinary(`${runtime.url}/test/nope`)).status).toBe(404);
    expect((await postBinary(`${runtime.url}/other/default`)).status).toBe(404);
  });

  it("a trailing slash is tolerated, as Knative trims it", async () => {
    const response = await postBinary(`${ingress}/`, { id: "trailing-slash" });
    expect(response.status).toBe(202);
    await subscriber.waitForEvent("trailing-slash");
  });

  it("binary mode is accepted and answered 202 with an empty body", async () => {
    const response = await postBinary(ingress, { id: "binary-1", body: '{"x":1}' });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
    const got = await subscriber.waitForEvent("binary-1");
    expect(got.body.toString()).toBe('{"x":1}');
  });

  it("structured mode is accepted, Content-Type compared case-insensitively with parameters allowed", async () => {
    for (const [index, type] of [
      "application/cloudevents+json",
      "Application/CloudEvents+JSON",
      "application/cloudevents+json; charset=utf-8",
    ].entries()) {
      const id = `structured-${index}`;
      const response = await postStructured(
        ingress,
        { specversion: "1.0", id, source: "/s", type: "t", data: { n: index } },
        type,
      );
      expect(response.status, type).toBe(202);
      const got = await subscriber.waitForEvent(id);
      expect(JSON.parse(got.body.toString())).toEqual({ n: index });
    }
  });

  it("batch mode answers 400", async () => {
    const response = await postStructured(
      ingress,
      [{ specversion: "1.0", id: "b", source: "/s", type: "t" }] as never,
      "application/cloudevents-batch+json",
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("batch");
  });

  it("required attributes must be present and non-empty", async () => {
    for (const missing of ["id", "source", "type"]) {
      const event: Record<string, unknown> = { specversion: "1.0", id: "r", source: "/s", type: "t" };
      delete event[missing];
      const response = await postStructured(ingress, event);
      expect(response.status, `missing ${missing}`).toBe(400);
      expect(await response.text()).toContain(missing);
      const empty = await postStructured(ingress, { ...event, [missing]: "" });
      expect(empty.status, `empty ${missing}`).toBe(400);
    }
    expect((await postStructured(ingress, { id: "r", source: "/s", type: "t" })).status).toBe(400);
    expect((await postBinary(ingress, { id: "" })).status).toBe(400);
  });

  it("specversion must be 1.0 or 0.3, and 0.3 is never upgraded", async () => {
    for (const version of ["1.1", "2.0", "0.2", "1"]) {
      const response = await postBinary(ingress, { specversion: version });
      expect(response.status, version).toBe(400);
    }
    const response = await postBinary(ingress, { specversion: "0.3", id: "v03" });
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("v03");
    expect(got.headers["ce-specversion"]).toBe("0.3");
  });

  it("source must be a URI-reference", async () => {
    expect(
      (await postStructured(ingress, { specversion: "1.0", id: "s", source: "not a uri", type: "t" })).status,
    ).toBe(400);
    expect((await postBinary(ingress, { id: "src-ok", source: "urn:knclaw:test" })).status).toBe(202);
  });

  it("time must be RFC 3339 when present", async () => {
    for (const time of ["yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01 00:00:00"]) {
      expect((await postBinary(ingress, { extra: { time } })).status, time).toBe(400);
    }
    expect(
      (await postBinary(ingress, { id: "time-ok", extra: { time: "2024-02-29T23:59:59.123+02:00" } })).status,
    ).toBe(202);
  });

  it("dataschema must be an absolute URI when present", async () => {
    expect((await postBinary(ingress, { extra: { dataschema: "/relative/schema" } })).status).toBe(400);
    expect(
      (await postBinary(ingress, { id: "schema-ok", extra: { dataschema: "https://example.com/s.json" } })).status,
    ).toBe(202);
  });

  it("subject must be non-empty when present", async () => {
    expect(
      (await postStructured(ingress, { specversion: "1.0", id: "s", source: "/s", type: "t", subject: "" })).status,
    ).toBe(400);
  });

  it("attribute names must be [a-z0-9]+", async () => {
    for (const name of ["Foo", "a-b", "a_b", "ünï"]) {
      const response = await postStructured(ingress, {
        specversion: "1.0",
        id: "n",
        source: "/s",
        type: "t",
        [name]: "x",
      });
      expect(response.status, name).toBe(400);
    }
    expect((await postBinary(ingress, { headers: { "ce-foo_bar": "x" } })).status).toBe(400);
  });

  it("datacontenttype must be a media type whose parameters fit in a header", async () => {
    const event = { specversion: "1.0", id: "ct", source: "/s", type: "t", data: "x" };
    expect((await postStructured(ingress, { ...event, datacontenttype: "not a media type" })).status).toBe(400);
    expect((await postStructured(ingress, { ...event, datacontenttype: "text/plain; note=€" })).status).toBe(400);
    expect(
      (await postStructured(ingress, { ...event, id: "ct-ok", datacontenttype: "text/plain; charset=utf-8" })).status,
    ).toBe(202);
    const got = await subscriber.waitForEvent("ct-ok");
    expect(got.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(got.body.toString()).toBe("x");
  });

  it("data and data_base64 are not both allowed in JSON", async () => {
    const response = await postStructured(ingress, {
      specversion: "1.0",
      id: "d",
      source: "/s",
      type: "t",
      data: { a: 1 },
      data_base64: "AA==",
    });
    expect(response.status).toBe(400);
  });

  it("nothing is filled in for the sender: no generated id, no added time", async () => {
    const response = await postBinary(ingress, { id: "no-fill" });
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("no-fill");
    expect(got.headers["ce-time"]).toBeUndefined();
    expect(got.headers["ce-id"]).toBe("no-fill");
  });

  it("binary header values are percent-decoded once", async () => {
    const response = await postBinary(ingress, { id: "pct", extra: { subject: "hello%20w%C3%B6rld%2520" } });
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("pct");
    // Re-encoded on delivery; decoding once gives the attribute value, whose literal "%20" survived.
    expect(receivedAttributes(got).subject).toBe("hello wörld%20");
  });

  it("a double-quoted header value is unquoted (RFC 7230 quoted-string), then percent-decoded once", async () => {
    // HTTP binding 3.1.3.2: receivers must take the quoted values older senders wrote for values with spaces.
    const cases: Array<[string, string]> = [
      ['"hello world"', "hello world"],
      ['"say \\"hi\\" \\\\ bye"', 'say "hi" \\ bye'],
      ['"caf%C3%A9%2520"', "café%20"],
      ['""', ""],
    ];
    for (const [i, [header, expected]] of cases.entries()) {
      const id = `quoted-${i}`;
      const response = await postBinary(ingress, { id, extra: { myext: header } });
      expect(response.status, header).toBe(202);
      expect(receivedAttributes(await subscriber.waitForEvent(id)).myext, header).toBe(expected);
    }
    // A value that opens a quote must be exactly one quoted-string.
    for (const header of ['"unterminated', '"closed" then more', '"ends in a backslash\\"', '"a"b']) {
      const response = await postBinary(ingress, { extra: { myext: header } });
      expect(response.status, header).toBe(400);
      expect(await response.text()).toContain("quote");
    }
  });

  it("an attribute value with a control character, a noncharacter or a lone surrogate answers 400", async () => {
    // spec.md, Type System: String values must not contain U+0000-U+001F, U+007F-U+009F, noncharacters or lone
    // surrogates. Percent-encoding lets a binary sender write them, a structured one writes them as JSON escapes.
    for (const header of ["a%0Ab", "a%0Db", "tab%09", "%00", "%7F", "nel%C2%85", "%EF%BF%BE", "%EF%B7%90"]) {
      const response = await postBinary(ingress, { extra: { myext: header } });
      expect(response.status, header).toBe(400);
      expect(await response.text()).toContain("control characters");
    }
    expect((await postBinary(ingress, { extra: { subject: "line%0Abreak" } })).status).toBe(400);
    for (const value of ["a\nb", "\u0001", "\u009f", "\ud800", "x\udc00", "\ufdd0"]) {
      const response = await fetch(ingress, {
        method: "POST",
        headers: { "content-type": "application/cloudevents+json" },
        // JSON.stringify writes each of these as a \u escape.
        body: JSON.stringify({ specversion: "1.0", id: "ctl", source: "/s", type: "t", myext: value }),
      });
      expect(response.status, value).toBe(400);
    }
    // A proper surrogate pair is one character, and characters outside ASCII are fine.
    const fine = await postBinary(ingress, { id: "astral", extra: { myext: "%F0%9F%98%80%20caf%C3%A9" } });
    expect(fine.status).toBe(202);
    expect(receivedAttributes(await subscriber.waitForEvent("astral")).myext).toBe("😀 café");
  });

  it("invalid percent-encoding or invalid UTF-8 after decoding answers 400", async () => {
    const bad = await postBinary(ingress, { extra: { subject: "broken%zz" } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("percent-encoding");
    const notUtf8 = await postBinary(ingress, { extra: { subject: "x%FF%FE" } });
    expect(notUtf8.status).toBe(400);
    expect(await notUtf8.text()).toContain("UTF-8");
  });

  it("the broker sets knativearrivaltime (RFC 3339, now) on every pass, replacing a sender's", async () => {
    const before = Date.now();
    const response = await postBinary(ingress, {
      id: "arrival",
      extra: { knativearrivaltime: "2000-01-01T00:00:00Z" },
    });
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("arrival");
    const arrival = String(got.headers["ce-knativearrivaltime"]);
    expect(arrival).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(Date.parse(arrival)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(arrival)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("a body over the configured size limit answers 413", async () => {
    const big = JSON.stringify({ pad: "x".repeat(64 * 1024) });
    const response = await postBinary(ingress, { body: big });
    expect(response.status).toBe(413);
    const chunked = await fetch(ingress, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "c",
        "ce-source": "/s",
        "ce-type": "t",
        "content-type": "application/json",
      },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // A body right at the limit is fine.
    const exact = "a".repeat(64 * 1024);
    expect((await postBinary(ingress, { id: "at-limit", body: exact, contentType: "text/plain" })).status).toBe(202);
  });

  it("a streamed body somewhat over the limit gets its 413 every time, not a reset", async () => {
    // 96 KiB against the 64 KiB limit, from Node's fetch in another process, pausing once past the limit: an ingress
    // that answered and closed there left the rest unread and the client's next write met EPIPE ("fetch failed").
    // The rest is drained (up to the limit again) before the answer, so every attempt sees the status.
    const outcomes = await streamedUploads({
      url: ingress,
      headers: { "ce-specversion": "1.0", "ce-id": "big", "ce-source": "/s", "ce-type": "t" },
      bytes: 96 * 1024,
      pauseAfter: 70 * 1024,
      attempts: 20,
    });
    expect(outcomes).toEqual(new Array(20).fill(413));
  });

  it("a body far past the limit and the drain allowance gets its 413 every time, streamed or declared", async () => {
    // 8 MiB against the 64 KiB limit: the drain allowance (64 KiB more) leaves most of it unread, and a close there
    // reset the connection under the client still writing (29 of 30 attempts failed with EPIPE). The connection now
    // lingers (runtime/http/lingering-close.ts): FIN after the 413, the rest read and dropped up to a budget, then no
    // more read until the client, its writes blocked, has read the 413 and closed.
    const headers = { "ce-specversion": "1.0", "ce-id": "huge", "ce-source": "/s", "ce-type": "t" };
    const streamed = await streamedUploads({ url: ingress, headers, bytes: 8 * 1024 * 1024, attempts: 30 });
    expect(streamed).toEqual(new Array(30).fill(413));
    const declared = await streamedUploads({
      url: ingress,
      headers,
      bytes: 8 * 1024 * 1024,
      declareLength: true,
      attempts: 10,
    });
    expect(declared).toEqual(new Array(10).fill(413));
  });

  it("a declared Content-Length far past the limit is answered 413 at once, then the connection lingers", async () => {
    const port = Number(new URL(runtime.url).port);
    const headers = { "ce-specversion": "1.0", "ce-id": "declared", "ce-source": "/s", "ce-type": "t" };
    const upload = await rawUpload(port, "/test/default", headers, 8 * 1024 * 1024);
    // Not a byte of the body sent yet.
    expect(await upload.status).toBe(413);
    // Half-closed after the answer; what the client still sends is read, not answered with a reset: its body, sent
    // now, is taken up to the end once it fits in the lingering budget.
    await upload.ended;
    upload.send(1024 * 1024);
    upload.socket.end();
    expect(await upload.closed).toBeUndefined();
  });

  it("the default size limit is 4 MiB", async () => {
    const sub = await startSubscriber();
    const other = await startTestRuntime(brokerWithTrigger(sub.url));
    try {
      const url = `${other.url}/test/default`;
      expect((await postBinary(url, { body: "a".repeat(4 * 1024 * 1024), contentType: "text/plain" })).status).toBe(
        202,
      );
      expect((await postBinary(url, { body: "a".repeat(4 * 1024 * 1024 + 1), contentType: "text/plain" })).status).toBe(
        413,
      );
    } finally {
      await other.shutdown();
      await sub.close();
    }
  });

  it("TTL: absent -> 255, so a reply loop ends after 255 deliveries", async () => {
    const sub = await startSubscriber((request) => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `${request.headers["ce-id"]}-r`,
        "ce-source": "/loop",
        "ce-type": "loop",
      },
    }));
    const loop = await startTestRuntime(brokerWithTrigger(sub.url, "  delivery: { retry: 0 }"));
    try {
      expect((await postBinary(`${loop.url}/test/default`, { id: "l", type: "loop" })).status).toBe(202);
      await loop.idle();
      expect(sub.received).toHaveLength(255);
      expect(sub.received.every((r) => r.headers["ce-knativebrokerttl"] === undefined)).toBe(true);
      expect(loop.counters.replies).toBe(254);
      expect(loop.counters.dropped).toBe(1);
    } finally {
      await loop.shutdown();
      await sub.close();
    }
  });

  it("TTL: present -> decremented; 0 or less after the decrement answers 400", async () => {
    expect((await postBinary(ingress, { extra: { knativebrokerttl: "1" } })).status).toBe(400);
    expect((await postBinary(ingress, { extra: { knativebrokerttl: "0" } })).status).toBe(400);
    expect((await postBinary(ingress, { extra: { knativebrokerttl: "-3" } })).status).toBe(400);
    const response = await postBinary(ingress, { id: "ttl-2", extra: { knativebrokerttl: "2" } });
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("ttl-2");
    expect(got.headers["ce-knativebrokerttl"]).toBeUndefined();
  });

  it("the process stays healthy after bad input", async () => {
    const response = await postBinary(ingress, { id: "healthy-after" });
    expect(response.status).toBe(202);
    await subscriber.waitForEvent("healthy-after");
  });
});

describe("broker ingress dispatch failure", () => {
  it("answers 500 when the event cannot be handed to the broker", async () => {
    const broken = {
      counters: { rejected: 0 },
      ingest() {
        throw new Error("queue exploded");
      },
    } as unknown as EmbeddedBroker;
    const ingress = createIngress((ns, name) => (ns === "test" && name === "default" ? broken : undefined));
    const server = createServer((req, res) => void serveIngressOnNode(ingress, req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/test/default`;
      const response = await postBinary(url);
      expect(response.status).toBe(500);
      expect(await response.text()).not.toContain("exploded");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
