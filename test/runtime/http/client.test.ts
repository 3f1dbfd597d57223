import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  createHttpClient,
  type HttpClient,
  HttpClientError,
  type HttpClientOptions,
  type HttpRequest,
} from "../../../runtime/http/client.ts";
import { ResponseHeaders } from "../../../runtime/http/response-headers.ts";
import { answering, answeringThenClosing, type RawServer, rawServer } from "../../support/raw-http-server.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function client(options: HttpClientOptions = {}): HttpClient {
  const c = createHttpClient(options);
  cleanup.push(() => c.close());
  return c;
}

async function server(make: Promise<RawServer>): Promise<RawServer> {
  const s = await make;
  cleanup.push(() => s.close());
  return s;
}

async function listen<T extends Server | ReturnType<typeof createHttpsServer>>(s: T): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  );
  return (s.address() as AddressInfo).port;
}

const post = (url: string, extra: Partial<HttpRequest> = {}): HttpRequest => ({
  url,
  method: "POST",
  headers: { "ce-id": "1", "content-type": "application/json" },
  body: '{"a":1}',
  ...extra,
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(HttpClientError);
      return error as HttpClientError;
    },
  );

describe("shared HTTP client: requests and keep-alive", () => {
  it("writes a well-formed request and reuses one connection", async () => {
    const s = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    const c = client();
    for (let i = 0; i < 3; i++) {
      const response = await c.request(post(`${s.url}/path?q=1`));
      expect(response.status).toBe(200);
      expect(text(response.body)).toBe("ok");
    }
    expect(s.connections()).toBe(1);
    const first = s.requests[0]!;
    expect(first).toMatch(/^POST \/path\?q=1 HTTP\/1\.1\r\n/);
    expect(first.toLowerCase()).toContain(`host: ${new URL(s.url).host}\r\n`);
    expect(first.toLowerCase()).toContain("content-length: 7\r\n");
    expect(first).toContain("ce-id: 1\r\n");
    expect(first.endsWith('\r\n\r\n{"a":1}')).toBe(true);
  });

  it("reads status text, repeated headers joined, chunked bodies with extensions and trailers", async () => {
    const s = await server(
      answering(
        "HTTP/1.1 202 Accepted\r\nCE-Id: x\r\nX-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
      ),
    );
    const c = client();
    const response = await c.request(post(s.url));
    expect(response.status).toBe(202);
    expect(response.statusText).toBe("Accepted");
    expect(response.headers.get("CE-ID")).toBe("x");
    expect(response.headers.get("x-a")).toBe("1, 2");
    expect(text(response.body)).toBe("hello world");
    await c.request(post(s.url));
    expect(s.connections()).toBe(1);
  });

  it("skips interim 103 responses", async () => {
    const s = await server(
      answering("HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\nX-Final: 1\r\n\r\n"),
    );
    const response = await client().request(post(s.url));
    expect(response.status).toBe(204);
    expect(response.headers.has("link")).toBe(false);
    expect(response.headers.get("x-final")).toBe("1");
  });

  it("reads a close-delimited body and opens a new connection after it", async () => {
    const s = await server(answeringThenClosing("HTTP/1.1 200 OK\r\n\r\npartial body"));
    const c = client();
    expect(text((await c.request(post(s.url))).body)).toBe("partial body");
    expect(text((await c.request(post(s.url))).body)).toBe("partial body");
    expect(s.connections()).toBe(2);
  });

  it("opens a new connection after Connection: close, and after an HTTP/1.0 answer", async () => {
    for (const head of ["HTTP/1.1 200 OK\r\nConnection: close", "HTTP/1.0 200 OK"]) {
      const s = await server(answeringThenClosing(`${head}\r\nContent-Length: 0\r\n\r\n`));
      const c = client();
      await c.request(post(s.url));
      await c.request(post(s.url));
      expect(s.connections()).toBe(2);
    }
  });

  it("works against Node's own server, GET and chunked replies included", async () => {
    const port = await listen(
      createHttpServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => {
          body += chunk;
        });
        req.on("end", () => {
          res.setHeader("x-method", req.method ?? "");
          res.write(`${req.url} `);
          res.end(body);
        });
      }),
    );
    const c = client();
    const got = await c.request({ url: `http://127.0.0.1:${port}/a?b=c` });
    expect(got.headers.get("x-method")).toBe("GET");
    expect(text(got.body)).toBe("/a?b=c ");
    const posted = await c.request(post(`http://127.0.0.1:${port}/p`, { body: new TextEncoder().encode("bytes") }));
    expect(text(posted.body)).toBe("/p bytes");
  });

  it("speaks HTTPS, trusting only the CAs it is given", async () => {
    const cert = readFileSync(new URL("./fixtures/localhost-cert.pem", import.meta.url));
    const key = readFileSync(new URL("./fixtures/localhost-key.pem", import.meta.url));
    const port = await listen(createHttpsServer({ cert, key }, (_req, res) => res.end("secure")));
    const trusting = client({ ca: cert });
    expect(text((await trusting.request({ url: `https://localhost:${port}/` })).body)).toBe("secure");
    const error = await failure(client().request({ url: `https://localhost:${port}/` }));
    expect(error.kind).toBe("network");
  });

  it("keeps at most connectionsPerOrigin connections and serves every queued request", async () => {
    const s = await server(
      rawServer((_r, socket) => setImmediate(() => socket.write("HTTP/1.1 204 No Content\r\n\r\n"))),
    );
    const c = client({ connectionsPerOrigin: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, () => c.request(post(s.url))));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect(s.requests).toHaveLength(10);
    expect(s.connections()).toBeLessThanOrEqual(2);
  });

  it("discards a body on request but still reuses the connection", async () => {
    const s = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    const c = client();
    const response = await c.request(post(s.url, { discardBody: true }));
    expect(response.body.byteLength).toBe(0);
    await c.request(post(s.url, { discardBody: true }));
    expect(s.connections()).toBe(1);
  });
});

describe("shared HTTP client: failures", () => {
  it("refuses responses that are not HTTP/1.1, or ambiguous about their length", async () => {
    const refused = [
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
      `HTTP/1.1 200 OK\r\nX: ${"a".repeat(70_000)}\r\n\r\n`,
      "SMTP ready\r\n\r\n",
    ];
    const c = client();
    for (const response of refused) {
      const s = await server(answeringThenClosing(response));
      const error = await failure(c.request(post(s.url, { timeoutMs: 10_000 })));
      expect(error.kind, JSON.stringify(response.slice(0, 40))).toBe("network");
      expect(error.message, JSON.stringify(response.slice(0, 40))).toMatch(/^invalid response/);
    }
  });

  it("fails a connection closed mid-response without sending the request again", async () => {
    const s = await server(answeringThenClosing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    const error = await failure(client().request(post(s.url, { replayable: true })));
    expect(error.kind).toBe("network");
    expect(s.requests).toHaveLength(1);
  });

  it("enforces the body limit for every framing, before the body when Content-Length says so", async () => {
    const c = client();
    const tooLarge = [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
    ];
    for (const response of tooLarge) {
      const s = await server(answering(response));
      expect((await failure(c.request(post(s.url, { maxResponseBytes: 10 })))).kind).toBe("response-too-large");
    }
    const closing = await server(answeringThenClosing("HTTP/1.1 200 OK\r\n\r\nhello world"));
    expect((await failure(c.request(post(closing.url, { maxResponseBytes: 10 })))).kind).toBe("response-too-large");
    // The head announces a million bytes and no byte of body ever comes: refused at once, not at the deadline.
    const announced = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"));
    const error = await failure(c.request(post(announced.url, { maxResponseBytes: 1000, timeoutMs: 30_000 })));
    expect(error.kind).toBe("response-too-large");
    // Exactly at the limit is fine.
    const exact = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"));
    expect(text((await c.request(post(exact.url, { maxResponseBytes: 10 }))).body)).toBe("0123456789");
  });

  it("applies the client's default body limit when a request sets none", async () => {
    const s = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    expect((await failure(client({ maxResponseBytes: 4 }).request(post(s.url)))).kind).toBe("response-too-large");
  });

  it("refuses header names and values that could inject headers, before sending anything", async () => {
    const s = await server(answering("HTTP/1.1 204 No Content\r\n\r\n"));
    const c = client();
    const refused: Array<Record<string, string>> = [
      { "x-evil": "a\r\nhost: other" },
      { "x-evil": "a\nb" },
      { "x-evil": "nul\u0000" },
      { "x-evil": "snow \u2603" },
      { "bad name": "x" },
      { "x-evil\r\nhost": "x" },
      { "transfer-encoding": "chunked" },
    ];
    for (const headers of refused) {
      const error = await failure(c.request(post(s.url, { headers })));
      expect(error.kind, JSON.stringify(headers)).toBe("invalid-request");
    }
    expect(s.requests).toHaveLength(0);
    expect((await c.request(post(s.url, { headers: { "x-fine": "latin-1 caf\u00e9" } }))).status).toBe(204);
  });

  it("refuses URLs it cannot send to", async () => {
    const c = client();
    expect((await failure(c.request({ url: "not a url" }))).kind).toBe("invalid-request");
    expect((await failure(c.request({ url: "ftp://127.0.0.1/x" }))).kind).toBe("invalid-request");
  });

  it("reports connection refused as a network failure", async () => {
    const s = await server(answering(""));
    const url = s.url;
    await s.close();
    expect((await failure(client().request(post(url)))).kind).toBe("network");
  });

  it("never hangs or crashes on arbitrary response bytes (property)", async () => {
    const c = client({ maxHeaderBytes: 1024 });
    let next = Buffer.alloc(0);
    const s = await server(rawServer((_r, socket) => socket.end(next)));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (bytes, asHttp) => {
        next = Buffer.concat([asHttp ? Buffer.from("HTTP/1.1 200 OK\r\n") : Buffer.alloc(0), Buffer.from(bytes)]);
        try {
          const response = await c.request(post(s.url, { maxResponseBytes: 100, timeoutMs: 10_000 }));
          expect(response.body.byteLength).toBeLessThanOrEqual(100);
        } catch (error) {
          expect(error).toBeInstanceOf(HttpClientError);
          expect((error as HttpClientError).kind).not.toBe("timeout");
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});

describe("shared HTTP client: stale keep-alive connections", () => {
  /** Answers the first request; drops the kept-alive connection as the second request arrives; answers the rest. */
  const droppingSecond = () =>
    server(
      rawServer((_r, socket, index) => {
        if (index === 1) socket.destroy();
        else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      }),
    );

  it("sends a replayable request once more on a new connection", async () => {
    const s = await droppingSecond();
    const c = client();
    await c.request(post(s.url, { replayable: true }));
    expect((await c.request(post(s.url, { replayable: true }))).status).toBe(200);
    expect(s.requests).toHaveLength(3);
    expect(s.connections()).toBe(2);
  });

  it("replays idempotent methods by default, never a plain POST", async () => {
    const idempotent = await droppingSecond();
    const c = client();
    await c.request({ url: idempotent.url, method: "PUT", body: "x" });
    expect((await c.request({ url: idempotent.url, method: "PUT", body: "x" })).status).toBe(200);
    expect(idempotent.requests).toHaveLength(3);

    const plain = await droppingSecond();
    await c.request(post(plain.url));
    expect((await failure(c.request(post(plain.url)))).kind).toBe("network");
    expect(plain.requests).toHaveLength(2);
  });

  it("never replays on a fresh connection, and replays at most once", async () => {
    const fresh = await server(rawServer((_r, socket) => socket.destroy()));
    expect((await failure(client().request(post(fresh.url, { replayable: true })))).kind).toBe("network");
    expect(fresh.requests).toHaveLength(1);

    // The replay, on its own fresh connection, is dropped too: that failure stands.
    const always = await server(
      rawServer((_r, socket, index) => {
        if (index === 0) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        else socket.destroy();
      }),
    );
    const c = client();
    await c.request(post(always.url, { replayable: true }));
    expect((await failure(c.request(post(always.url, { replayable: true })))).kind).toBe("network");
    expect(always.requests).toHaveLength(3);
  });
});

describe("shared HTTP client: deadline and abort", () => {
  it("times out a hung response, and a request still waiting for a connection", async () => {
    const s = await server(rawServer(() => undefined));
    const c = client({ connectionsPerOrigin: 1 });
    const first = failure(c.request(post(s.url, { timeoutMs: 400 })));
    await s.received(1);
    const queued = await failure(c.request(post(s.url, { timeoutMs: 50 })));
    expect(queued.kind).toBe("timeout");
    expect((await first).kind).toBe("timeout");
    expect(s.requests).toHaveLength(1);
  });

  it("covers the body: a response whose body stalls times out", async () => {
    const s = await server(answering("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    const error = await failure(client().request(post(s.url, { timeoutMs: 100 })));
    expect(error.kind).toBe("timeout");
    expect(error.message).toContain("100 ms");
  });

  it("aborts on the signal, with the signal's reason as the cause", async () => {
    const s = await server(rawServer(() => undefined));
    const abort = new AbortController();
    const pending = failure(client().request(post(s.url, { signal: abort.signal })));
    await s.received(1);
    abort.abort(new Error("shutting down"));
    const error = await pending;
    expect(error.kind).toBe("aborted");
    expect((error.cause as Error).message).toBe("shutting down");
  });

  it("does not send a request whose signal is already aborted", async () => {
    const s = await server(answering("HTTP/1.1 204 No Content\r\n\r\n"));
    const error = await failure(client().request(post(s.url, { signal: AbortSignal.abort() })));
    expect(error.kind).toBe("aborted");
    expect(s.connections()).toBe(0);
  });

  it("keeps serving on the same client after timeouts and aborts", async () => {
    const s = await server(
      rawServer((request, socket) => {
        if (!request.startsWith("POST /hang")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }),
    );
    const c = client({ connectionsPerOrigin: 1 });
    expect((await failure(c.request(post(`${s.url}/hang`, { timeoutMs: 50 })))).kind).toBe("timeout");
    expect(text((await c.request(post(`${s.url}/ok`))).body)).toBe("ok");
  });

  it("fails requests in flight and after close", async () => {
    const s = await server(rawServer(() => undefined));
    const c = createHttpClient();
    const pending = failure(c.request(post(s.url)));
    await s.received(1);
    await c.close();
    expect((await pending).kind).toBe("network");
    expect((await failure(c.request(post(s.url)))).kind).toBe("network");
  });
});

describe("response headers", () => {
  it("reads names case-insensitively, joins repeats, and sees only real fields", () => {
    const headers = new ResponseHeaders({ "content-type": "a/b", "set-cookie": ["x=1", "y=2"] });
    expect(headers.get("Content-Type")).toBe("a/b");
    expect(headers.get("set-cookie")).toBe("x=1, y=2");
    expect(headers.get("constructor")).toBeNull();
    expect(headers.has("toString")).toBe(false);
    const seen: string[] = [];
    headers.forEach((value, name) => {
      seen.push(`${name}=${value}`);
    });
    expect(seen).toEqual(["content-type=a/b", "set-cookie=x=1, y=2"]);
  });
});
