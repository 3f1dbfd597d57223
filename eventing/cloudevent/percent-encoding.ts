import { badRequest } from "./errors.ts";

/**
 * Binary-mode header values (CloudEvents HTTP binding 3.1.3.2): senders percent-encode space, `"`, `%` and every byte
 * outside U+0021..U+007E of the UTF-8 form; receivers decode exactly once. The cloudevents npm SDK does neither.
 */
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeHeaderValue(value: string): string {
  if (needsNoEncoding(value)) return value;
  let out = "";
  for (const byte of utf8.encode(value)) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x25) {
      out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    } else {
      out += String.fromCharCode(byte);
    }
  }
  return out;
}

export function decodeHeaderValue(value: string, name: string): string {
  if (!value.includes("%") && isPrintableAscii(value)) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw badRequest(`header ${name}: invalid percent-encoding at offset ${i}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (code > 0xff) {
      throw badRequest(`header ${name}: non-Latin-1 character in header value`);
    } else {
      // Node hands us header bytes as latin1 code units: keep the raw byte so UTF-8 is validated below.
      bytes.push(code);
    }
  }
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    throw badRequest(`header ${name}: value is not valid UTF-8 after percent-decoding`);
  }
}

/** The common case, checked without allocating: U+0021..U+007E except `"` and `%`. */
function needsNoEncoding(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x22 || code === 0x25) return false;
  }
  return true;
}

function isPrintableAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}
