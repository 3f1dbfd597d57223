import { CloudEventError } from "./errors.ts";

/** Knative's broker ingress default request size limit. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Read a request or response body, refusing (413) once it exceeds `maxBytes`, so an oversized body is never buffered
 * whole. Content-Length is checked first; the stream is still counted because the header may lie or be absent.
 */
export async function readBodyLimited(
  source: Request | Response,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<Uint8Array> {
  const declared = source.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await source.body?.cancel().catch(() => undefined);
    throw tooLarge(maxBytes);
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
