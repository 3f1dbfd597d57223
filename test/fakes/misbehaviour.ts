import type { ServerResponse } from "node:http";

/**
 * Provider misbehaviour the model fakes share (the wire shape of each chunk is the fake's own): a stream that never
 * ends, flooding text at a steady rate; headers and then silence; one finished answer far larger than any real one.
 * Everything stops when the client goes away, so a test that aborts leaves no timer behind.
 */
export type Misbehaviour =
  /** An endless stream of text at `bytesPerSecond` (default 1 MiB/s), until the client closes the connection. */
  | { kind: "flood"; bytesPerSecond?: number }
  /** The headers (and for a stream its opening event), then nothing until the client closes the connection. */
  | { kind: "hang" }
  /** One complete answer of `bytes` bytes of text, sent as fast as the socket takes it. */
  | { kind: "huge"; bytes: number };

export function isMisbehaviour(reply: { kind: string }): reply is Misbehaviour {
  return reply.kind === "flood" || reply.kind === "hang" || reply.kind === "huge";
}

const TICK_MS = 50;

/** Writes `piece(n)` (a wire chunk carrying n bytes of text) every tick at the given rate until the client is gone. */
export function flood(res: ServerResponse, bytesPerSecond: number, piece: (bytes: number) => string): void {
  const perTick = Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000));
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) clearInterval(timer);
    else res.write(piece(perTick));
  }, TICK_MS);
  res.on("close", () => clearInterval(timer));
}

/** Keeps the response open without a byte more until the client is gone. */
export function hang(res: ServerResponse): void {
  res.on("close", () => res.destroy());
}

export function filler(bytes: number): string {
  return "x".repeat(bytes);
}
