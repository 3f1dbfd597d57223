import { afterEach, describe, expect, it } from "vitest";
import { createHttpTransport, type HttpTransportOptions } from "../../../eventing/delivery/http-transport.ts";
import { TransportError, type TransportRequest } from "../../../eventing/delivery/transport.ts";
import { createHttpClient } from "../../../runtime/http/client.ts";
import { answering, type RawServer, rawServer } from "../../support/raw-http-server.ts";

/** The broker's delivery transport on the shared client: what the retry loop and the dispatcher rely on. */
const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function transport(options: HttpTransportOptions = {}) {
  const t = createHttpTransport(options);
  cleanup.push(() => t.close());
  return t;
}

async function server(make: Promise<RawServer>): Promise<RawServer> {
  const s = await make;
  cleanup.push(() => s.close());
  return s;
}

const delivery = (url: string, extra: Partial<TransportRequest> = {}): TransportRequest => ({
  url,
  headers: { "ce-id": "1", "ce-specversion": "1.0", "content-type": "application/json" },
  body: new TextEncoder().encode('{"a":1}'),
  maxResponseBytes: 1024,
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe("HTTP delivery transport", () => {
  it("POSTs the event and hands back status, headers (reply attributes) and body over one connection", async () => {
    const s = await server(
      answering("HTTP/1.1 200 OK\r\nCe-Id: reply\r\nCe-Type: t\r\nContent-Length: 5\r\n\r\nhello"),
    );
    const t = transport();
    for (let i = 0; i < 3; i++) {
      const response = await t(delivery(`${s.url}/sub`));
      expect(response.status).toBe(200);
      expect(response.headers.get("ce-id")).toBe("reply");
      expect(response.headers.has("CE-TYPE")).toBe(true);
      expect(utf8(response.body)).toBe("hello");
    }
    expect(s.connections()).toBe(1);
    expect(s.requests[0]).toMatch(/^POST \/sub HTTP\/1\.1\r\n/);
    expect(s.requests[0]!.endsWith('\r\n\r\n{"a":1}')).toBe(true);
  });

  it("sends a delivery again when a kept-alive connection was closed under it (subscribers de-duplicate by id)", async () => {
    const s = await server(
      rawServer((_r, socket, index) => {
        if (index === 1) socket.destroy();
        else socket.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
      }),
    );
    const t = transport();
    await t(delivery(s.url));
    expect((await t(delivery(s.url))).status).toBe(202);
    expect(s.requests).toHaveLength(3);
  });

  it("fails with the kinds the retry loop reads: timeout, aborted, response-too-large, network", async () => {
    const hung = await server(rawServer(() => undefined));
    const t = transport({ maxSocketsPerHost: 1 });
    expect((await failure(t(delivery(hung.url, { timeoutMs: 50 })))).kind).toBe("timeout");
    const abort = new AbortController();
    const aborted = failure(t(delivery(hung.url, { signal: abort.signal })));
    abort.abort();
    expect((await aborted).kind).toBe("aborted");

    const big = await server(answering(`HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${"x".repeat(2000)}`));
    expect((await failure(t(delivery(big.url)))).kind).toBe("response-too-large");

    expect((await failure(t(delivery("http://127.0.0.1:9/")))).kind).toBe("network");
    expect((await failure(t(delivery("no url")))).kind).toBe("network");
  });

  it("refuses header values that would inject headers, as a network failure, sending nothing", async () => {
    const s = await server(answering("HTTP/1.1 204 No Content\r\n\r\n"));
    const t = transport();
    const error = await failure(t(delivery(s.url, { headers: { "x-evil": "a\r\nhost: other" } })));
    expect(error.kind).toBe("network");
    expect(s.requests).toHaveLength(0);
  });

  it("limits connections per host and serves the queue", async () => {
    const s = await server(
      rawServer((_r, socket) => setImmediate(() => socket.write("HTTP/1.1 204 No Content\r\n\r\n"))),
    );
    const t = transport({ maxSocketsPerHost: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, () => t(delivery(s.url))));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect(s.connections()).toBeLessThanOrEqual(2);
  });

  it("can share a client, and then leaves it open when closed", async () => {
    const s = await server(answering("HTTP/1.1 204 No Content\r\n\r\n"));
    const client = createHttpClient();
    cleanup.push(() => client.close());
    const t = createHttpTransport({ client });
    expect((await t(delivery(s.url))).status).toBe(204);
    await t.close();
    expect((await client.request({ url: s.url })).status).toBe(204);
  });
});
