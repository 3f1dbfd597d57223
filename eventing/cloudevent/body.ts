import { CloudEventError } from "./errors.ts";

/** Knative's broker ingress default request size limit. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The most a refused request's body is read past its limit (see drainAllowance). */
const MAX_DRAIN_BYTES = 1024 * 1024;

/**
 * How many bytes past `maxBytes` a server reads and discards before answering 413. A server that answers and closes
 * while the client is still sending leaves unread bytes behind, and the client meets a reset (EPIPE, "fetch failed")
 * instead of the status: Node's fetch (undici) fails the whole request when its body write fails, even with the
 * answer already on the wire. Reading the rest of a body that is only somewhat too large lets every such client see
 * its 413; a body larger still is answered there, as Go's net/http stops at what it will not drain (256 KiB there),
 * and the server's lingering close (runtime/http/lingering-close.ts) keeps that client from meeting a reset. The
 * allowance is the limit itself, capped at 1 MiB, so a small limit is not a loophole for large uploads.
 */
export function drainAllowance(maxBytes: number): number {
  return Math.min(maxBytes, MAX_DRAIN_BYTES);
}

/**
 * Read a request or response body, refusing (413) once it exceeds `maxBytes`, so an oversized body is never buffered
 * whole. A declared Content-Length over the limit is refused before reading; within it, the body is read in one go
 * (the HTTP parser frames it to that length, and Node's adapter then builds no web stream) and its size checked
 * again. Without a declared length the stream is counted as it arrives. A request's oversized body is drained up to
 * `drainAllowance` past the limit before the 413 is thrown (never kept), so the client sees the status.
 */
export async function readBodyLimited(
  source: Request | Response,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<Uint8Array> {
  const drainTo = source instanceof Request ? maxBytes + drainAllowance(maxBytes) : maxBytes;
  const declared = source.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > maxBytes) {
      // Only a body small enough to be drained whole is read at all; a larger one is answered at once (and the
      // server lingers on the connection's close).
      if (Number(declared) <= drainTo) await discard(source.body?.getReader(), 0, drainTo);
      else await source.body?.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    const bytes = new Uint8Array(await source.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  if (!source.body) return new Uint8Array(0);
  const reader = source.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      chunks.length = 0;
      await discard(reader, total, drainTo);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Read and drop the rest of a body until it ends or `limit` bytes were read in all; past the limit, cancel it. */
async function discard(
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
  read: number,
  limit: number,
): Promise<void> {
  if (reader === undefined) return;
  let total = read;
  try {
    while (total <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // A client that went away while its body was drained gets its 413 nowhere; nothing else to do.
  }
}

function tooLarge(maxBytes: number): CloudEventError {
  return new CloudEventError(413, `request body exceeds the limit of ${maxBytes} bytes`);
}
