import { readBodyLimited } from "./body.ts";
import { badRequest } from "./errors.ts";
import { type CloudEvent, isJsonContentType, isTextContentType } from "./event.ts";
import { decodeHeaderValue, encodeHeaderValue } from "./percent-encoding.ts";
import { printable, validateEvent } from "./validate.ts";

/**
 * The CloudEvents HTTP protocol binding, strict (docs/knative-semantics.md, "Ingress"). Every function and the broker
 * decode and encode through here; the `cloudevents` SDK is never asked to validate because it is lenient where Knative
 * is not.
 */
export type EventMode = "binary" | "structured";

const STRUCTURED_JSON = "application/cloudevents+json";
const BATCH_JSON = "application/cloudevents-batch+json";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

/**
 * The part of `Headers` the codec reads. A `Headers` object satisfies it; the broker's ingress passes a thin view over
 * Node's already-lowercased header object instead, so the hot path does not build a `Headers` per request.
 */
export interface HeaderReader {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, name: string) => void): void;
}

export interface DecodeOptions {
  maxBodyBytes?: number;
}

function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
}

/** How a message is encoded: structured, binary, or not a CloudEvent at all (sdk-go's ReadEncoding order). */
export function detectMode(headers: HeaderReader): EventMode | "batch" | undefined {
  const media = mediaType(headers.get("content-type"));
  if (media === BATCH_JSON) return "batch";
  if (media.startsWith("application/cloudevents")) return "structured";
  if (headers.has("ce-specversion")) return "binary";
  return undefined;
}

/** Decode and validate the CloudEvent in an HTTP request. Throws CloudEventError (400/413/415) on anything invalid. */
export async function decodeRequest(request: Request, options: DecodeOptions = {}): Promise<CloudEvent> {
  const mode = detectMode(request.headers);
  if (mode === undefined) {
    await request.body?.cancel().catch(() => undefined);
    throw badRequest("not a CloudEvent: no ce-specversion header and Content-Type is not application/cloudevents+json");
  }
  if (mode === "batch") {
    await request.body?.cancel().catch(() => undefined);
    throw badRequest("batched CloudEvents (application/cloudevents-batch+json) are not supported");
  }
  const body = await readBodyLimited(request, options.maxBodyBytes);
  return decodeMessage(mode, request.headers, body);
}

/**
 * Decode a message already read: a delivery's reply, say. Returns undefined when the message carries no event at all
 * (no ce-specversion, not structured) so callers can tell "no reply" from "a broken reply".
 */
export function decodeMessageIfAny(headers: HeaderReader, body: Uint8Array): CloudEvent | undefined {
  const mode = detectMode(headers);
  if (mode === undefined) return undefined;
  if (mode === "batch") throw badRequest("batched CloudEvents are not supported");
  return decodeMessage(mode, headers, body);
}

export function decodeMessage(mode: EventMode, headers: HeaderReader, body: Uint8Array): CloudEvent {
  return validateEvent(mode === "binary" ? decodeBinary(headers, body) : decodeStructured(headers, body));
}

function decodeBinary(headers: HeaderReader, body: Uint8Array): CloudEvent {
  const attributes: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name.length > 3 && name.startsWith("ce-")) {
      attributes[name.slice(3)] = decodeHeaderValue(value, name);
    }
  });
  const contentType = headers.get("content-type");
  if (contentType !== null && contentType !== "") attributes.datacontenttype = contentType;
  return body.byteLength > 0 ? { attributes, data: body } : { attributes };
}

function decodeStructured(headers: HeaderReader, body: Uint8Array): CloudEvent {
  const media = mediaType(headers.get("content-type"));
  if (media !== STRUCTURED_JSON) throw badRequest(`unsupported structured format "${printable(media)}" (only JSON)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(body));
  } catch {
    throw badRequest("structured event is not valid UTF-8 JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw badRequest("structured event must be a JSON object");
  }
  const record = parsed as Record<string, unknown>;
  if ("data" in record && "data_base64" in record) throw badRequest("data and data_base64 must not both be present");
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name === "data" || name === "data_base64" || value === null) continue;
    attributes[name] = attributeString(name, value);
  }
  const data = structuredData(record, attributes);
  return data === undefined ? { attributes } : { attributes, data };
}

function attributeString(name: string, value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    // CloudEvents Integer is a signed 32-bit value; sdk-go rejects fractions and out-of-range numbers too.
    if (Number.isInteger(value) && value >= -2147483648 && value <= 2147483647) return String(value);
    throw badRequest(`attribute ${printable(name)}: numbers must be 32-bit integers`);
  }
  throw badRequest(`attribute ${printable(name)}: must be a string, integer or boolean`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function structuredData(record: Record<string, unknown>, attributes: Record<string, string>): Uint8Array | undefined {
  if ("data_base64" in record) {
    const encoded = record.data_base64;
    if (typeof encoded !== "string" || !BASE64.test(encoded)) throw badRequest("data_base64: must be base64 text");
    return Buffer.from(encoded, "base64");
  }
  if (!("data" in record) || record.data === null) return undefined;
  const value = record.data;
  if (attributes.specversion === "0.3" && attributes.datacontentencoding === "base64") {
    if (typeof value !== "string" || !BASE64.test(value))
      throw badRequest("data: base64 expected (datacontentencoding)");
    return Buffer.from(value, "base64");
  }
  if (isJsonContentType(attributes.datacontenttype)) return utf8.encode(JSON.stringify(value));
  return utf8.encode(typeof value === "string" ? value : JSON.stringify(value));
}

export interface EncodedMessage {
  headers: Record<string, string>;
  body?: Uint8Array;
}

export function encodeEvent(event: CloudEvent, mode: EventMode): EncodedMessage {
  return mode === "binary" ? encodeBinary(event) : encodeStructured(event);
}

export function encodeBinary(event: CloudEvent): EncodedMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === "datacontenttype") headers["content-type"] = value;
    else headers[`ce-${name}`] = encodeHeaderValue(value);
  }
  return event.data === undefined ? { headers } : { headers, body: event.data };
}

function encodeStructured(event: CloudEvent): EncodedMessage {
  const members = Object.entries(event.attributes).map(
    ([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`,
  );
  if (event.data !== undefined && event.data.byteLength > 0) members.push(structuredDataMember(event));
  return {
    headers: { "content-type": `${STRUCTURED_JSON}; charset=utf-8` },
    body: utf8.encode(`{${members.join(",")}}`),
  };
}

/** JSON data is spliced in as the sender's exact text; text stays a string; anything else travels as data_base64. */
function structuredDataMember(event: CloudEvent): string {
  const data = event.data!;
  const contentType = event.attributes.datacontenttype;
  let text: string | undefined;
  try {
    text = strictUtf8.decode(data);
  } catch {
    text = undefined;
  }
  if (text !== undefined && isJsonContentType(contentType)) {
    try {
      JSON.parse(text);
      return `"data":${text}`;
    } catch {
      // not JSON after all: fall through to base64 so no byte is lost
    }
  } else if (text !== undefined && isTextContentType(contentType)) {
    return `"data":${JSON.stringify(text)}`;
  }
  return `"data_base64":${JSON.stringify(Buffer.from(data).toString("base64"))}`;
}

/** A Response carrying an event: how a function replies to a delivery (e.g. a skill's tool.completed). */
export function eventResponse(event: CloudEvent, mode: EventMode = "binary", status = 200): Response {
  const { headers, body } = encodeEvent(event, mode);
  return new Response(body as ConstructorParameters<typeof Response>[0], { status, headers });
}
