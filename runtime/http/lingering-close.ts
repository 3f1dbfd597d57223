import { subscribe } from "node:diagnostics_channel";
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
 * Two hooks into Node, both only for a request whose body is incomplete when its response has been written, so a
 * request read to its end costs nothing. The `http.server.response.finish` diagnostics channel, published before
 * Node's server dumps such a body (reads it, unbounded, without handing it to anyone, so that nothing could count
 * or pause it): the body is taken over here instead, counted as it is dropped. And the socket's own `destroySoon`,
 * through which Node closes the connection (the HTTP server, when that response ends it; @hono/node-server, when it
 * gives up draining an unread body): it lingers, or closes as Node's does once the body has ended after all.
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
  /** Body bytes read and dropped since the response was written. */
  bytes: number;
}

const LINGERING_CLOSE_DEFAULTS: LingeringCloseOptions = {
  timeMs: 2_000,
  idleMs: 500,
  maxBytes: 4 * 1024 * 1024,
  maxSockets: 256,
};

export interface LingeringClose {
  /** Sockets lingering now. */
  readonly lingering: number;
}

interface Lingering {
  settings: LingeringCloseOptions;
  count: number;
}

/** The servers that linger, by server: the diagnostics channel is one for the whole process. */
const servers = new WeakMap<Server, Lingering>();
let subscribed = false;

/** Make every connection `server` closes while a request's body still arrives linger (see above). */
export function lingerOnClose(server: Server, options: Partial<LingeringCloseOptions> = {}): LingeringClose {
  const state: Lingering = { settings: { ...LINGERING_CLOSE_DEFAULTS, ...options }, count: 0 };
  servers.set(server, state);
  if (!subscribed) {
    subscribed = true;
    subscribe("http.server.response.finish", (message) => {
      const { request, server: from } = message as { request: IncomingMessage; server: Server };
      const lingering = servers.get(from);
      if (lingering !== undefined && !request.complete) takeOver(request, lingering);
    });
  }
  return {
    get lingering() {
      return state.count;
    },
  };
}

/** A request answered with its body incomplete: drop the body here rather than in Node's dump, and hook the close. */
function takeOver(req: IncomingMessage, lingering: Lingering): void {
  const { settings } = lingering;
  const socket = req.socket;
  let bytes = 0;
  // Set while lingering: the idle timer, refreshed by every chunk, and whether reading is to stop at the budget.
  let idle: NodeJS.Timeout | undefined;
  let bounded = false;
  const onData = (chunk: Buffer) => {
    bytes += chunk.byteLength;
    if (!bounded) return;
    if (bytes <= settings.maxBytes) {
      idle?.refresh();
      return;
    }
    // Budget spent: read no more and wait out the time (see above). Paused again on every chunk, so that no other
    // reader of the request (the node adapter's own drain resumes it) reads on past the budget.
    req.pause();
    clearTimeout(idle);
  };
  // The body only goes to the bin now: whoever was reading it (a web stream over the request) has been answered.
  // Flowing before Node's server looks, so it does not dump the body itself; on a connection kept open, the body is
  // read to its end, as Node would.
  req.removeAllListeners("data");
  req.on("data", onData);
  req.resume();

  socket.destroySoon = () => {
    // Once (the server, then the node adapter giving up its own drain, may both close).
    socket.destroySoon = () => {};
    // A body that has ended by now leaves nothing behind to cause a reset: close as Node would.
    if (req.complete || socket.destroyed) return Socket.prototype.destroySoon.call(socket);
    if (lingering.count >= settings.maxSockets) {
      settings.onEnd?.({ reason: "refused", bytes });
      return Socket.prototype.destroySoon.call(socket);
    }
    lingering.count += 1;
    let total: NodeJS.Timeout | undefined;
    let reason: LingerEnd["reason"] | undefined;
    const onComplete = () => end("complete");
    const end = (why: LingerEnd["reason"]) => {
      if (reason !== undefined) return;
      reason = why;
      clearTimeout(total);
      clearTimeout(idle);
      req.off("data", onData);
      req.off("end", onComplete);
      lingering.count -= 1;
      settings.onEnd?.({ reason, bytes });
      socket.destroy();
    };
    // The client's FIN or reset, or bytes Node's parser refuses, end the socket through Node's own error handling.
    socket.once("close", () => end("client-closed"));
    // The budgets start once the response and the FIN are handed to the kernel: until then the socket is closing as
    // Node would close it. Node's HTTP server allows half-open connections: after its FIN the socket still reads.
    const start = () => {
      if (socket.destroyed) return;
      if (req.readableEnded) {
        end("complete");
        return;
      }
      bounded = true;
      total = setTimeout(() => end(bytes > settings.maxBytes ? "bytes" : "time"), settings.timeMs);
      idle = setTimeout(() => end("idle"), settings.idleMs);
      req.once("end", onComplete);
      if (bytes > settings.maxBytes) {
        req.pause();
        clearTimeout(idle);
      }
    };
    if (socket.writableFinished) {
      start();
      return;
    }
    socket.once("finish", start);
    if (socket.writable) socket.end();
  };
}
