import { connect, type Socket } from "node:net";

/**
 * An HTTP/1.1 upload written by hand on a raw socket, to see what the server does on the wire while a body is still
 * being sent: when its response arrives, when its FIN arrives, and whether the connection then ends in a reset.
 */
export interface RawUpload {
  socket: Socket;
  /** The response's status, once its status line arrived. */
  status: Promise<number>;
  /** The server's FIN arrived (everything it sent has been read). */
  ended: Promise<void>;
  /** The socket closed: with the error's code when it ended in an error (EPIPE, ECONNRESET), else undefined. */
  closed: Promise<string | undefined>;
  /** Body bytes written so far (payload only, without chunk framing). */
  readonly written: number;
  /** Write `bytes` more of the body now. */
  send(bytes: number): void;
  /** Send body bytes as fast as the socket takes them, until it closes. */
  pump(): void;
  /** Send a chunk of `bytes` every `everyMs` until the socket closes (a trickling client; pacing, not a sync). */
  trickle(bytes: number, everyMs: number): void;
  /** End a chunked body (the last chunk). */
  finish(): void;
}

const CHUNK = 16 * 1024;

/**
 * Connect to `port`, send a POST's head to `path`, with `Content-Length: contentLength` when given, else chunked,
 * and none of its body yet.
 */
export function rawUpload(
  port: number,
  path: string,
  headers: Record<string, string>,
  contentLength?: number,
): Promise<RawUpload> {
  // Half-open allowed: after the server's FIN the client goes on sending, as an HTTP client still writing its body does.
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  const chunked = contentLength === undefined;
  let written = 0;
  let open = true;
  let received = "";
  let resolveStatus!: (status: number) => void;
  const status = new Promise<number>((resolve) => {
    resolveStatus = resolve;
  });
  const ended = new Promise<void>((resolve) => socket.once("end", resolve));
  let error: string | undefined;
  socket.on("error", (caught: NodeJS.ErrnoException) => {
    error ??= caught.code ?? caught.message;
  });
  const closed = new Promise<string | undefined>((resolve) =>
    socket.once("close", () => {
      open = false;
      resolve(error);
    }),
  );
  socket.on("data", (data: Buffer) => {
    received += data.toString("latin1");
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
    if (match) resolveStatus(Number(match[1]));
  });
  const frame = (bytes: number) => {
    written += bytes;
    const payload = Buffer.alloc(bytes, 0x78);
    return chunked ? Buffer.concat([Buffer.from(`${bytes.toString(16)}\r\n`), payload, Buffer.from("\r\n")]) : payload;
  };
  const upload: RawUpload = {
    socket,
    status,
    ended,
    closed,
    get written() {
      return written;
    },
    send(bytes) {
      if (open) socket.write(frame(bytes));
    },
    pump() {
      // Until the socket's buffer is full ("drain" calls again), yielding every 1 MiB so that its events are seen.
      const more = () => {
        for (let i = 0; i < 64; i++) if (!open || !socket.write(frame(CHUNK))) return;
        setImmediate(more);
      };
      socket.on("drain", more);
      more();
    },
    trickle(bytes, everyMs) {
      const timer = setInterval(() => upload.send(bytes), everyMs);
      socket.once("close", () => clearInterval(timer));
    },
    finish() {
      if (open) socket.write("0\r\n\r\n");
    },
  };
  const head = [`POST ${path} HTTP/1.1`, "host: 127.0.0.1"];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  head.push(chunked ? "transfer-encoding: chunked" : `content-length: ${contentLength}`);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => {
      socket.write(`${head.join("\r\n")}\r\n\r\n`);
      resolve(upload);
    });
    socket.once("error", reject);
  });
}
