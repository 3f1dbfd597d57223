import { retryAfterMs } from "../../../eventing/delivery/retry-policy.ts";
import { networkError, PlatformError } from "./platform-error.ts";

/**
 * Calling a platform API: one fetch with a timeout and typed failures, and a small in-process retry for transient
 * failures whose wait is short. Longer waits are handed back to the broker (the adapter answers 429/503 with
 * Retry-After) so no request is parked inside a scale-to-zero function for long.
 */
export interface PlatformRetryOptions {
  /** Total attempts in this process, first included. */
  attempts?: number;
  /** Longest wait this process sleeps before retrying; above it the error goes back to the caller. */
  maxInlineWaitMs?: number;
  /** Wait when the platform gave no Retry-After. */
  baseDelayMs?: number;
  /** Injected so tests can observe waits without real time passing. */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withPlatformRetries<T>(call: () => Promise<T>, options: PlatformRetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  const maxInlineWaitMs = options.maxInlineWaitMs ?? 2_000;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof PlatformError) || !error.retryable || attempt >= attempts) throw error;
      const wait = error.retryAfterMs ?? baseDelayMs * 2 ** (attempt - 1);
      if (wait > maxInlineWaitMs) throw error;
      await sleep(wait);
    }
  }
}

export interface PlatformResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when it was empty or not JSON. */
  json: unknown;
  retryAfterMs: number | undefined;
}

/** Largest platform answer read: API replies are small, and an unbounded read is a memory risk. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export async function platformFetch(
  platform: string,
  url: string,
  init: RequestInit & { timeoutMs?: number; fetch?: typeof fetch },
): Promise<PlatformResponse> {
  const { timeoutMs = 10_000, fetch: fetchImpl = fetch, ...requestInit } = init;
  let response: Response;
  try {
    response = await fetchImpl(url, { ...requestInit, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw networkError(platform, error);
  }
  let text = "";
  try {
    const buffer = await response.arrayBuffer();
    if (buffer.byteLength > MAX_RESPONSE_BYTES) throw new PlatformError(platform, "unavailable", "oversized answer");
    text = new TextDecoder().decode(buffer);
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    throw networkError(platform, error);
  }
  let json: unknown;
  if (text !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    json,
    retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
  };
}
