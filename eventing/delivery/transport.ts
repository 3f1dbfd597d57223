import type { HeaderReader } from "../cloudevent/http-codec.ts";

/**
 * How a delivery leaves the broker: one HTTP POST, answered with a status, headers and the whole (bounded) body.
 * Implementations: the shared HTTP client with keep-alive (http-transport.ts), an in-process hono app (no socket),
 * and the dev runtime's router that picks between them by URL.
 */
export interface TransportRequest {
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Per-attempt deadline covering connect, request and the response body (Knative's http.Client Timeout). */
  timeoutMs?: number;
  /** Aborts the attempt (shutdown deadline). */
  signal?: AbortSignal;
  /** A larger response body fails the attempt instead of being buffered. */
  maxResponseBytes: number;
}

export interface TransportResponse {
  status: number;
  headers: HeaderReader;
  body: Uint8Array;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export type TransportFailure = "timeout" | "network" | "aborted" | "response-too-large";

/** No usable response: connection refused or reset, timeout, abort, or a reply too large to read. */
export class TransportError extends Error {
  readonly kind: TransportFailure;
  constructor(kind: TransportFailure, message: string) {
    super(message);
    this.name = "TransportError";
    this.kind = kind;
  }
}

export const EMPTY_BODY = new Uint8Array(0);
