import type { IncomingMessage, Server } from "node:http";
import { Socket } from "node:net";

/**
 * A lingering close for Node's HTTP server, as nginx's `lingering_close` does it. A connection closed after a
 * response while its request's body is still arriving (a 413 answered before the upload ended) has unread bytes in
 * the kernel's receive buffer, or gets more after the close, and the kernel answers them with a reset instead of a
 * FIN. The reset can reach the client before it has read the response, and a client still sending then fails with
 * EPIPE or ECONNRESET ("fetch failed" in Node's fetch) and never sees the status.
 *
 * Lingering instead: once the response is written, half-close the write side (the FIN follows the whole response)
 * and read and drop what the client still sends, until its body ends or it closes its side, for at most `timeMs` in
 * all, `idleMs` of silence and `maxBytes`; only then destroy the socket. Past `maxBytes` nothing more is read, but
 * the socket stays open until the time runs out: a client that writes its body in one go without looking at the
 * connection (Node's fetch streaming a body does that while its writes go through) reads the response only once a
 * write blocks. Read on, it would send its whole body; cut off, it would meet the reset. Not read, its writes soon
 * block, it reads the response and closes.
 *
 * Node closes such a connection through `socket.destroySoon()` (the HTTP server, once a response that ends the
 * connection has finished; @hono/node-server, once it gives up draining an unread body), so that is where this hooks
 * in: for each request, its socket's own `destroySoon` lingers while the request's body is incomplete, and closes as
 * Node's does otherwise.
 */
export interface LingeringCloseOptions {
  /** Longest a socket lingers in all (nginx `lingering_time`). Default 2 s. */
  timeMs: number;
  /** Longest the client may stay silent while its body is read and dropped (nginx `lingering_timeout`). 0.5 s. */
  idleMs: number;
  /** Most body bytes read and dropped while lingering; past it nothing is read until `timeMs` ends. Default 4 MiB. */
  maxBytes: number;
  /**
   * Most sockets lingering at once on the server; past it a socket closes at once, as without lingering (its client
   * may see a reset instead of the response). With `timeMs` this is what keeps lingering from being a slow-loris
   * lever: a client trickling bytes holds a socket for at most `timeMs`, and all such clients together hold at most
   * this many sockets (each reading at most `maxBytes`) on top of the server's own.
   */
  maxSockets: number;
  /** Told how each lingering close ended (tests, diagnostics). */
  onEnd?: (ended: LingerEnd) => void;
}

/**
 * How a lingering socket ended: `complete` (the rest of the body arrived), `client-closed` (the client closed or
 * reset its side, or sent bytes that are not HTTP), `idle` (the client fell silent), `time` (it was still sending
 * when the time ran out), `bytes` (it sent more than `maxBytes`, then the time ran out), or `refused` (too many
 * sockets lingering already: closed at once).
 */
export interface LingerEnd {
  reason: "complete" | "client-closed" | "idle" | "time" | "bytes" | "refused";
  /** Body bytes read and dropped while lingering. */
  bytes: number;
}

export const LINGERING_CLOSE_DEFAULTS: LingeringCloseOptions = {
  timeMs: 2_000,
  idleMs: 500,
  maxBytes: 4 * 1024 * 1024,
  maxSockets: 256,
};

export interface LingeringClose {
  /** Sockets lingering now. */
  readonly lingering: number;
}

/** Make every connection `server` closes while a request's body still arrives linger (see above). */
export function lingerOnClose(server: Server, options: Partial<LingeringCloseOptions> = {}): LingeringClose {
  const settings = { ...LINGERING_CLOSE_DEFAULTS, ...options };
  let lingering = 0;
  const close = (req: IncomingMessage, socket: Socket) => {
    // A body read to its end leaves nothing behind to cause a reset: close as Node would.
    if (req.complete || socket.destroyed) return Socket.prototype.destroySoon.call(socket);
    if (lingering >= settings.maxSockets) {
      settings.onEnd?.({ reason: "refused", bytes: 0 });
      return Socket.prototype.destroySoon.call(socket);
    }
    lingering += 1;
    linger(req, socket, settings, () => {
      lingering -= 1;
    });
  };
  // Prepended, so that the socket's hook names this request before the server's own handler can answer it.
  server.prependListener("request", (req: IncomingMessage) => {
    const socket = req.socket;
    socket.destroySoon = () => close(req, socket);
  });
  return {
    get lingering() {
      return lingering;
    },
  };
}

/**
 * Half-close, read and drop the rest of `req`'s body within the budgets, destroy. The budgets start once the
 * response and the FIN are handed to the kernel: until then the socket is closing as Node would close it.
 */
function linger(req: IncomingMessage, socket: Socket, settings: LingeringCloseOptions, done: () => void): void {
  // Called again (the server, then the node adapter giving up its own drain) while already lingering: nothing to do.
  socket.destroySoon = () => {};
  let bytes = 0;
  let reason: LingerEnd["reason"] | undefined;
  let total: NodeJS.Timeout | undefined;
  let idle: NodeJS.Timeout | undefined;
  const end = (why: LingerEnd["reason"]) => {
    if (reason !== undefined) return;
    reason = why;
    settings.onEnd?.({ reason, bytes });
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.byteLength;
    if (bytes <= settings.maxBytes) {
      idle?.refresh();
      return;
    }
    // Budget spent: read no more and wait out the time (see above). Paused again on every chunk, so that no other
    // reader of the request (the node adapter's own drain resumes it) reads on past the budget.
    req.pause();
    clearTimeout(idle);
  };
  const onComplete = () => end("complete");
  socket.once("close", () => {
    clearTimeout(total);
    clearTimeout(idle);
    req.off("data", onData);
    req.off("end", onComplete);
    done();
    // The client's FIN or reset, or bytes Node's parser refuses, end the socket through Node's own error handling.
    end("client-closed");
  });
  const start = () => {
    if (socket.destroyed) return;
    if (req.readableEnded) {
      end("complete");
      return;
    }
    total = setTimeout(() => end(bytes > settings.maxBytes ? "bytes" : "time"), settings.timeMs);
    idle = setTimeout(() => end("idle"), settings.idleMs);
    // The body only goes to the bin now: whoever was reading it (a web stream over the request) has been answered.
    req.removeAllListeners("data");
    req.on("data", onData);
    req.once("end", onComplete);
    req.resume();
  };
  // Node's HTTP server allows half-open connections: after its FIN the socket still reads.
  if (socket.writableFinished) {
    start();
    return;
  }
  socket.once("finish", start);
  if (socket.writable) socket.end();
}
