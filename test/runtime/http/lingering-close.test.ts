import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type LingerEnd,
  type LingeringClose,
  type LingeringCloseOptions,
  lingerOnClose,
} from "../../../runtime/http/lingering-close.ts";
import { type RawUpload, rawUpload } from "../../support/raw-upload.ts";
import { streamedUploads } from "../../support/streaming-upload.ts";

/**
 * runtime/http/lingering-close.ts on Node's HTTP server over loopback. The server answers every request 413 at once,
 * before reading any of its body, and closes the connection: what the ingress does with a declared Content-Length
 * past its limit, and what any handler does once it stopped reading a body too large.
 */
const LIMIT = 64 * 1024;

function answerTooLarge(_req: IncomingMessage, res: ServerResponse): void {
  const body = `request body exceeds the limit of ${LIMIT} bytes\n`;
  res.writeHead(413, { connection: "close", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

interface Running {
  server: Server;
  port: number;
  url: string;
  closer: LingeringClose;
  /** How each lingering close ended, in order. */
  ends: LingerEnd[];
  /** The next lingering close to end (the first not yet taken). */
  nextEnd(): Promise<LingerEnd>;
}

let running: Running | undefined;
afterEach(async () => {
  const server = running?.server;
  running = undefined;
  if (!server) return;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
});

async function start(
  options: Partial<LingeringCloseOptions> = {},
  handler: (req: IncomingMessage, res: ServerResponse) => void = answerTooLarge,
): Promise<Running> {
  const ends: LingerEnd[] = [];
  const waiters: Array<(end: LingerEnd) => void> = [];
  let taken = 0;
  const server = createServer(handler);
  const closer = lingerOnClose(server, {
    ...options,
    onEnd: (end) => {
      ends.push(end);
      waiters.shift()?.(end);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  running = {
    server,
    port,
    url: `http://127.0.0.1:${port}/`,
    closer,
    ends,
    nextEnd: () => {
      const index = taken++;
      if (index < ends.length) return Promise.resolve(ends[index]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
  return running;
}

/** Budgets that cannot run out during a test, so that only the one under test ends the lingering. */
const NEVER = 600_000;

/** Send a head and part of a chunked body, and wait for the 413 and the server's FIN after it. */
async function answeredUpload(port: number): Promise<RawUpload> {
  const upload = await rawUpload(port, "/", {});
  upload.send(100 * 1024);
  expect(await upload.status).toBe(413);
  await upload.ended;
  return upload;
}

describe("lingering close", () => {
  it("every streamed upload far past the limit and any budget gets its 413 from Node's fetch, never a reset", async () => {
    // 8 MiB, twice the byte budget: the client writes without reading until a write blocks, so the server reads the
    // budget, then reads no more; the client's writes block, it reads the 413 and stops. Closed at the limit
    // instead (Node's own close), nearly every attempt ends in EPIPE.
    const { url } = await start();
    const outcomes = await streamedUploads({ url, bytes: 8 * 1024 * 1024, attempts: 30 });
    expect(outcomes).toEqual(new Array(30).fill(413));
    const declared = await streamedUploads({ url, bytes: 8 * 1024 * 1024, declareLength: true, attempts: 10 });
    expect(declared).toEqual(new Array(10).fill(413));
  });

  it("half-closes after the answer and reads on: a body that then ends closes the connection at once", async () => {
    const { port, nextEnd } = await start({ timeMs: NEVER, idleMs: NEVER });
    // The FIN came after the whole answer, and the client may still send its body.
    const upload = await answeredUpload(port);
    upload.send(200 * 1024);
    upload.finish();
    const end = await nextEnd();
    expect(end.reason).toBe("complete");
    expect(end.bytes).toBeGreaterThan(0);
    expect(end.bytes).toBeLessThanOrEqual(300 * 1024);
    // Closed cleanly: nothing was left unread, so no reset follows the FIN.
    upload.socket.end();
    expect(await upload.closed).toBeUndefined();
  });

  it("a client that reads the answer and closes ends the lingering at once", async () => {
    const { port, nextEnd, closer } = await start({ timeMs: NEVER, idleMs: NEVER });
    const upload = await answeredUpload(port);
    expect(closer.lingering).toBe(1);
    upload.socket.end();
    expect((await nextEnd()).reason).toBe("client-closed");
    expect(closer.lingering).toBe(0);
  });

  it("a client that never stops sending is read up to the byte budget, then cut off when the time is up", async () => {
    const maxBytes = 256 * 1024;
    const { port, nextEnd, closer } = await start({ maxBytes, timeMs: 300, idleMs: NEVER });
    const upload = await rawUpload(port, "/", {});
    upload.pump();
    expect(await upload.status).toBe(413);
    await upload.ended;
    const end = await nextEnd();
    expect(end.reason).toBe("bytes");
    // Nothing past the budget was read but what had arrived with its last chunk.
    expect(end.bytes).toBeGreaterThan(maxBytes);
    expect(end.bytes).toBeLessThanOrEqual(maxBytes + 256 * 1024);
    // The client was still writing: the close left its bytes unread, and it met the reset.
    expect(await upload.closed).toMatch(/ECONNRESET|EPIPE/);
    expect(upload.written).toBeGreaterThan(end.bytes);
    expect(closer.lingering).toBe(0);
  });

  it("a client trickling bytes is cut off when the time is up", async () => {
    const { port, nextEnd } = await start({ timeMs: 300, idleMs: NEVER });
    const upload = await rawUpload(port, "/", {});
    upload.send(1024);
    expect(await upload.status).toBe(413);
    upload.trickle(64, 5);
    const end = await nextEnd();
    expect(end.reason).toBe("time");
    expect(end.bytes).toBeLessThan(LIMIT);
    await upload.closed;
  });

  it("a client that falls silent is closed once it was silent for the idle time", async () => {
    const { port, nextEnd } = await start({ timeMs: NEVER, idleMs: 100 });
    const upload = await answeredUpload(port);
    expect((await nextEnd()).reason).toBe("idle");
    // The server sent its FIN before and left nothing unread, so nothing more came; the socket is gone, so what the
    // client sends now is answered with a reset.
    upload.pump();
    expect(await upload.closed).toMatch(/ECONNRESET|EPIPE/);
  });

  it("lingers on at most maxSockets sockets at once; past that a socket is closed at once", async () => {
    const { port, nextEnd, closer } = await start({ timeMs: NEVER, idleMs: NEVER, maxSockets: 1 });
    const first = await answeredUpload(port);
    expect(closer.lingering).toBe(1);
    await answeredUpload(port);
    expect((await nextEnd()).reason).toBe("refused");
    expect(closer.lingering).toBe(1);
    first.socket.end();
    expect((await nextEnd()).reason).toBe("client-closed");
    expect(closer.lingering).toBe(0);
  });

  it("a request whose body was read to its end is closed as Node closes it, without lingering", async () => {
    const { port, ends, closer } = await start({ timeMs: NEVER, idleMs: NEVER }, (req, res) => {
      req.resume();
      req.once("end", () => answerTooLarge(req, res));
    });
    const upload = await rawUpload(port, "/", {}, 1024);
    upload.send(1024);
    expect(await upload.status).toBe(413);
    await upload.ended;
    upload.socket.end();
    expect(await upload.closed).toBeUndefined();
    expect(ends).toEqual([]);
    expect(closer.lingering).toBe(0);
  });
});
