import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ResponseParseError, ResponseParser, ResponseTooLargeError } from "../../eventing/delivery/http1-parser.ts";
import { createHttp1Transport } from "../../eventing/delivery/http1-transport.ts";
import { TransportError, type TransportRequest } from "../../eventing/delivery/transport.ts";

const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("HTTP/1.1 response parser", () => {
  const parse = (text: string | Buffer, maxBody = 1 << 20) => {
    const parser = new ResponseParser(8192, maxBody);
    const response = parser.push(typeof text === "string" ? Buffer.from(text, "latin1") : text);
    return { parser, response };
  };

  it("reads status, headers (lowercased, repeats joined) and a Content-Length body", () => {
    const { response } = parse(
      "HTTP/1.1 202 Accepted\r\nCE-Id: x\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 5\r\n\r\nhello",
    );
    expect(response!.status).toBe(202);
    expect(response!.headers.get("ce-id")).toBe("x");
    expect(response!.headers.get("x-a")).toBe("1, 2");
    expect(utf8(response!.body)).toBe("hello");
    expect(response!.reusable).toBe(true);
  });
  it("reads chunked bodies with extensions and trailers", () => {
    const { response } = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    expect(utf8(response!.body)).toBe("hello world");
    expect(response!.reusable).toBe(true);
  });
  it("skips interim 1xx responses", () => {
    const { response } = parse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    );
    expect(response!.status).toBe(204);
    expect(response!.headers.has("link")).toBe(false);
  });
  it("reads a close-delimited body when the connection ends, and never reuses it", () => {
    const { parser, response } = parse("HTTP/1.1 200 OK\r\n\r\npartial");
    expect(response).toBeUndefined();
    parser.push(Buffer.from(" body"));
    const done = parser.end();
    expect(utf8(done.body)).toBe("partial body");
    expect(done.reusable).toBe(false);
  });
  it("honours Connection: close and HTTP/1.0 semantics", () => {
    expect(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").response!.reusable).toBe(false);
    expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").response!.reusable).toBe(false);
    expect(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").response!.reusable).toBe(
      true,
    );
  });
  it("handles responses split at every byte boundary", () => {
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    const parser = new ResponseParser(8192, 1024);
    let response: ReturnType<ResponseParser["push"]>;
    for (let i = 0; i < text.length; i++) response = parser.push(Buffer.from(text[i]!, "latin1"));
    expect(utf8(response!.body)).toBe("abc");
  });
  it("refuses malformed or dangerous responses", () => {
    const refuse = (text: string) => expect(() => parse(text)).toThrow(ResponseParseError);
    refuse("HTTP/2 200 OK\r\n\r\n");
    refuse("HTTP/1.1 20 OK\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nbad header\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    refuse("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    refuse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab");
    expect(() => parse(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(9000)}\r\n\r\n`)).toThrow(/too large/);
  });
  it("enforces the body limit for every framing", () => {
    expect(() => parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10)).toThrow(ResponseTooLargeError);
    expect(() => parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n", 10)).toThrow(
      ResponseTooLargeError,
    );
    expect(() => parse("HTTP/1.1 200 OK\r\n\r\nhello world", 10)).toThrow(ResponseTooLargeError);
  });
  it("treats both Transfer-Encoding and Content-Length as chunked and closes afterwards", () => {
    const { response } = parse(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    );
    expect(utf8(response!.body)).toBe("a");
    expect(response!.reusable).toBe(false);
  });
  it("never crashes on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const parser = new ResponseParser(256, 256);
        try {
          for (const chunk of chunks) parser.push(Buffer.from(chunk));
          parser.end();
        } catch (error) {
          expect(error instanceof ResponseParseError || error instanceof ResponseTooLargeError).toBe(true);
        }
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});

describe("HTTP/1.1 delivery transport", () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A raw TCP server answering each request (read up to the end of its body) with `answer`. */
  async function rawServer(
    answer: (request: string, socket: Socket, index: number) => void,
  ): Promise<{ url: string; connections: () => number; requests: string[] }> {
    let connections = 0;
    const requests: string[] = [];
    const server: Server = createServer((socket) => {
      connections++;
      let buffer = "";
      socket.on("data", (data) => {
        buffer += data.toString("latin1");
        for (;;) {
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          const request = buffer.slice(0, end + 4 + length);
          buffer = buffer.slice(end + 4 + length);
          requests.push(request);
          answer(request, socket, requests.length - 1);
        }
      });
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        }),
    );
    const sockets = new Set<Socket>();
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      connections: () => connections,
      requests,
    };
  }

  function transport(options = {}) {
    const t = createHttp1Transport(options);
    cleanup.push(() => t.close());
    return t;
  }

  const request = (url: string, extra: Partial<TransportRequest> = {}): TransportRequest => ({
    url,
    headers: { "ce-id": "1", "content-type": "application/json" },
    body: new TextEncoder().encode('{"a":1}'),
    maxResponseBytes: 1024,
    ...extra,
  });

  it("writes a well-formed request and reuses the connection (keep-alive)", async () => {
    const server = await rawServer((_r, socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    const t = transport();
    for (let i = 0; i < 3; i++) {
      const response = await t(request(`${server.url}/path?q=1`));
      expect(response.status).toBe(200);
      expect(utf8(response.body)).toBe("ok");
    }
    expect(server.connections()).toBe(1);
    const first = server.requests[0]!;
    expect(first).toMatch(/^POST \/path\?q=1 HTTP\/1\.1\r\n/);
    expect(first).toContain(`host: ${new URL(server.url).host}\r\n`);
    expect(first).toContain("content-length: 7\r\n");
    expect(first.endsWith('\r\n\r\n{"a":1}')).toBe(true);
  });

  it("works against Node's own HTTP server, chunked replies included", async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.setHeader("ce-id", "reply");
        res.write("chunk-1,");
        res.end("chunk-2");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const t = transport();
    const response = await t(request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
    expect(response.headers.get("ce-id")).toBe("reply");
    expect(utf8(response.body)).toBe("chunk-1,chunk-2");
  });

  it("opens a new connection after Connection: close", async () => {
    const server = await rawServer((_r, socket) =>
      socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    );
    const t = transport();
    await t(request(server.url));
    await t(request(server.url));
    expect(server.connections()).toBe(2);
  });

  it("retries once on a fresh connection when a reused idle one was closed by the server", async () => {
    const server = await rawServer((_r, socket, index) => {
      // The second request lands on the kept-alive socket, which the server drops without answering.
      if (index === 1) socket.destroy();
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const t = transport();
    await t(request(server.url));
    expect((await t(request(server.url))).status).toBe(200);
    expect(server.requests).toHaveLength(3);
    expect(server.connections()).toBe(2);
  });

  it("does not retry a fresh connection that fails", async () => {
    const server = await rawServer((_r, socket) => socket.destroy());
    await expect(transport()(request(server.url))).rejects.toMatchObject({ kind: "network" });
    expect(server.requests).toHaveLength(1);
  });

  it("fails a connection closed mid-response, and a garbage response", async () => {
    const cut = await rawServer((_r, socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    await expect(transport()(request(cut.url))).rejects.toMatchObject({ kind: "network" });
    const garbage = await rawServer((_r, socket) => socket.end("SMTP ready\r\n\r\n"));
    await expect(transport()(request(garbage.url))).rejects.toThrow(/invalid response/);
  });

  it("times out a hung response and a request waiting for a socket", async () => {
    const server = await rawServer(() => undefined);
    const t = transport({ maxSocketsPerHost: 1 });
    const first = t(request(server.url, { timeoutMs: 200 }));
    const queued = t(request(server.url, { timeoutMs: 50 }));
    await expect(queued).rejects.toMatchObject({ kind: "timeout" });
    await expect(first).rejects.toMatchObject({ kind: "timeout" });
  });

  it("aborts on the signal", async () => {
    const server = await rawServer(() => undefined);
    const abort = new AbortController();
    const pending = transport()(request(server.url, { signal: abort.signal }));
    setImmediate(() => abort.abort());
    await expect(pending).rejects.toMatchObject({ kind: "aborted" });
  });

  it("limits sockets per host and serves the queue in order", async () => {
    const server = await rawServer((_r, socket) =>
      setTimeout(() => socket.write("HTTP/1.1 204 No Content\r\n\r\n"), 5),
    );
    const t = transport({ maxSocketsPerHost: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, () => t(request(server.url))));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it("refuses header values that would inject headers, and too-large responses", async () => {
    const server = await rawServer((_r, socket) =>
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${"x".repeat(2000)}`),
    );
    const t = transport();
    await expect(t(request(server.url, { headers: { "x-evil": "a\r\nhost: other" } }))).rejects.toBeInstanceOf(
      TransportError,
    );
    await expect(t(request(server.url))).rejects.toMatchObject({ kind: "response-too-large" });
  });

  it("reports connection refused as a network failure", async () => {
    await expect(transport()(request("http://127.0.0.1:9/"))).rejects.toMatchObject({ kind: "network" });
  });
});
