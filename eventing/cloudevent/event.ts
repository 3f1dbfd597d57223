/**
 * A CloudEvent as knclaw carries it: context attributes in their canonical string form (what binary mode puts in
 * headers and what Trigger filters compare) and data as the exact bytes the sender gave. Keeping data as bytes is how
 * the broker guarantees "event data is never modified" whatever the content type.
 */
export interface CloudEvent {
  readonly attributes: Readonly<Record<string, string>>;
  readonly data?: Uint8Array;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === "") return true; // CloudEvents: absent datacontenttype means JSON
  const media = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return media === "application/json" || media === "text/json" || media.endsWith("+json");
}

export function isTextContentType(contentType: string | undefined): boolean {
  const media = (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
  return media.startsWith("text/") || media === "application/xml" || media.endsWith("+xml");
}

/** The event's data parsed as JSON; undefined when there is none. Throws on data that is not JSON. */
export function dataAsJson(event: CloudEvent): unknown {
  if (!event.data || event.data.length === 0) return undefined;
  return JSON.parse(textDecoder.decode(event.data));
}

export function jsonBytes(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

/** A copy with some attributes set (undefined removes one). Data is shared, never copied or changed. */
export function withAttributes(event: CloudEvent, changes: Record<string, string | undefined>): CloudEvent {
  const attributes: Record<string, string> = { ...event.attributes };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete attributes[name];
    else attributes[name] = value;
  }
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}
