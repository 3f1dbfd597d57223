import { CloudEventError } from "./errors.ts";

/** Knative's broker ingress default request size limit. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Read a request or response body, refusing (413) once it exceeds `maxBytes`, so an oversized body is never buffered
 * whole. A declared Content-Length over the limit is refused before reading; within it, the body is read in one go
 * (the HTTP parser frames it to that length, and Node's adapter then builds no web stream) and its size checked
 * again. Without a declared length the stream is counted as it arrives.
 */
export async function readBodyLimited(
  source: Request | Response,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<Uint8Array> {
  const declared = source.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > maxBytes) {
      await source.body?.cancel().catch(() => undefined);
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
      await reader.cancel().catch(() => undefined);
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

function tooLarge(maxBytes: number): CloudEventError {
  return new CloudEventError(413, `request body exceeds the limit of ${maxBytes} bytes`);
}
