import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";

/**
 * A TCP server on loopback that reads whole HTTP/1.1 requests (head plus Content-Length body) and lets a test
 * answer each with raw bytes, so clients can be tested against responses no real server would send.
 */
export interface RawServer {
  url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Every request read, in order, as latin1 text. */
  requests: string[];
  /** Resolves when `count` requests have been read. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

export type Answer = (request: string, socket: Socket, index: number) => void;

export async function rawServer(answer: Answer): Promise<RawServer> {
  let connections = 0;
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
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
        for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
        answer(request, socket, requests.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    requests,
    received: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A server that answers every request with the same bytes and keeps the connection open. */
export const answering = (response: string) => rawServer((_request, socket) => socket.write(response));

/** A server that answers every request with the same bytes and then closes the connection. */
export const answeringThenClosing = (response: string) => rawServer((_request, socket) => socket.end(response));
