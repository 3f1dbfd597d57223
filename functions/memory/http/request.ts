import type { Context } from "hono";
import type { z } from "zod";
import { readBodyLimited } from "../../../eventing/cloudevent/body.ts";
import { CloudEventError } from "../../../eventing/cloudevent/errors.ts";
import { invalid, memoryError } from "./errors.ts";

/**
 * Reading requests: JSON bodies within a size limit (413 beyond it, counted on the wire whatever Content-Length
 * says), then zod validation (400 with field paths). Route parameters and queries are validated the same way.
 */

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readBodyLimited(request, maxBytes);
  } catch (error) {
    if (error instanceof CloudEventError && error.status === 413) {
      throw memoryError(413, "payload_too_large", `request bodies are limited to ${maxBytes} bytes`);
    }
    throw error;
  }
}

export interface BodyOptions {
  maxBytes: number;
  /** An empty body stands for `{}` (operations whose fields are all optional). */
  optional?: boolean;
}

export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  options: BodyOptions,
): Promise<z.infer<S>> {
  const bytes = await readLimited(request, options.maxBytes);
  let parsed: unknown = {};
  if (bytes.byteLength > 0 || !options.optional) {
    if (!JSON_TYPE.test(request.headers.get("content-type") ?? "")) {
      throw memoryError(415, "unsupported_media_type", "send JSON with Content-Type: application/json");
    }
    try {
      parsed = JSON.parse(utf8.decode(bytes));
    } catch {
      throw memoryError(400, "invalid_json", "the body is not valid UTF-8 JSON");
    }
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw invalid(undefined, result.error);
  return result.data;
}

export function readParam<S extends z.ZodType>(c: Context, name: string, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.param(name));
  if (!result.success) throw invalid(`params.${name}`, result.error);
  return result.data;
}

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw invalid("query", result.error);
  return result.data;
}
