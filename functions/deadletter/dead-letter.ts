import type {
  DeadLetter,
  DeadLetterError,
  StoreDeadLetterRequest,
} from "../../clients/memory/contract/dead-letters.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { EXT_ERROR_CODE, EXT_ERROR_DATA, EXT_ERROR_DEST } from "../../eventing/delivery/dead-letter.ts";

/**
 * What a dead letter is made of, both ways: the delivered event (the original plus Knative's knativeerror*
 * extensions) -> the memory service's entry, and the entry -> the event a replay re-emits (the original again).
 */

const ERROR_PREFIX = "knativeerror";
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The failure Knative recorded on the event; absent or malformed extensions become nulls. */
export function errorOf(attributes: Readonly<Record<string, string>>): DeadLetterError {
  const code = attributes[EXT_ERROR_CODE];
  const numeric = code !== undefined && /^\d{1,3}$/.test(code) ? Number(code) : null;
  const data = attributes[EXT_ERROR_DATA] ?? null;
  return {
    destination: attributes[EXT_ERROR_DEST] || null,
    code: numeric,
    data,
    text: data === null ? null : errorText(data),
  };
}

/**
 * The error data as text when it is UTF-8. Knative cuts the base64 at 1024 characters, which can split the last
 * character of the body: a cut tail (at most 3 bytes of an unfinished sequence) is dropped rather than the text.
 */
export function errorText(base64: string): string | null {
  if (!BASE64_TEXT.test(base64)) return null;
  const bytes = Buffer.from(base64, "base64");
  const cut = base64.length % 4 !== 0 || base64.length >= 1024;
  for (let drop = 0; drop <= (cut ? 3 : 0) && drop <= bytes.length; drop++) {
    try {
      return strictUtf8.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // not UTF-8 (yet): try a shorter tail if the text was cut
    }
  }
  return null;
}

export interface Retention {
  maxEntries: number;
  maxAgeMs: number;
}

export function storeRequest(event: CloudEvent, retention: Retention): StoreDeadLetterRequest {
  return {
    attributes: { ...event.attributes },
    ...(event.data === undefined
      ? {}
      : {
          dataBase64: Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength).toString("base64"),
        }),
    error: errorOf(event.attributes),
    maxEntries: retention.maxEntries,
    maxAgeMs: retention.maxAgeMs,
  };
}

/**
 * The event a replay sends: the original as it was first delivered, same id (Knative's replay semantics, so
 * consumers that de-duplicate on id see one event), without the knativeerror* extensions the dead-lettering added.
 */
export function replayEvent(entry: Pick<DeadLetter, "attributes" | "dataBase64">): CloudEvent {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.attributes)) {
    if (!name.startsWith(ERROR_PREFIX)) attributes[name] = value;
  }
  return entry.dataBase64 === null ? { attributes } : { attributes, data: Buffer.from(entry.dataBase64, "base64") };
}
