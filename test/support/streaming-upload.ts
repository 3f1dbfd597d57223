import { execFile } from "node:child_process";
import { promisify } from "node:util";

const CLIENT = new URL("./streaming-upload-client.ts", import.meta.url).pathname;
const run = promisify(execFile);

export interface StreamedUploads {
  url: string;
  headers?: Record<string, string>;
  /** The body's size. */
  bytes: number;
  /** Send the body as one buffer with its Content-Length instead of streaming it chunked. */
  declareLength?: boolean;
  /** Where the sender pauses once (a slow sender: see streaming-upload-client.ts); 0 for no pause. */
  pauseAfter?: number;
  attempts: number;
}

/**
 * Upload `attempts` bodies one after the other from a client in its own process (Node's fetch: streamed chunked, or
 * one buffer with its Content-Length), and return each attempt's status, or `error:<code>` for one that failed
 * ("fetch failed": EPIPE, ECONNRESET).
 */
export async function streamedUploads(options: StreamedUploads): Promise<Array<number | string>> {
  const plan = {
    url: options.url,
    headers: options.headers ?? {},
    bytes: options.bytes,
    declareLength: options.declareLength ?? false,
    pauseAfter: options.pauseAfter ?? 0,
    pauseMs: options.pauseAfter ? 20 : 0,
    attempts: options.attempts,
  };
  const { stdout } = await run(process.execPath, [CLIENT, JSON.stringify(plan)], { maxBuffer: 1024 * 1024 });
  return JSON.parse(stdout) as Array<number | string>;
}
