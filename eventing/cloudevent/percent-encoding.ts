import { badRequest } from "./errors.ts";

/**
 * Binary-mode header values (CloudEvents HTTP binding 3.1.3.2): senders percent-encode space, `"`, `%` and every byte
 * outside U+0021..U+007E of the UTF-8 form; receivers first unescape a double-quoted value (RFC 7230 3.2.6: senders
 * of older binding versions quoted values with spaces instead of encoding them), then percent-decode exactly once.
 * The cloudevents npm SDK does none of this.
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

export function decodeHeaderValue(raw: string, name: string): string {
  const value = raw.charCodeAt(0) === 0x22 ? unquote(raw, name) : raw;
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

/**
 * A header value that is one RFC 7230 quoted-string, without its quotes and with its quoted-pairs (`\x`) resolved.
 * Only a value that is wholly quoted is one: the binding's values carry no comments and no lists, so a value that
 * opens a quote and does not end with its closing quote is malformed (400), not a value that happens to start with `"`.
 */
function unquote(value: string, name: string): string {
  let out = "";
  for (let i = 1; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x22) {
      if (i !== value.length - 1) throw badRequest(`header ${name}: text after the closing quote of a quoted string`);
      return out;
    }
    if (code === 0x5c) {
      i++;
      if (i >= value.length) break;
      const escaped = value.charCodeAt(i);
      if (!isQuotedText(escaped) && escaped !== 0x22 && escaped !== 0x5c) {
        throw badRequest(`header ${name}: invalid escape in a quoted string`);
      }
      out += value[i];
    } else if (isQuotedText(code)) {
      out += value[i];
    } else {
      throw badRequest(`header ${name}: invalid character in a quoted string`);
    }
  }
  throw badRequest(`header ${name}: unterminated quoted string`);
}

/** RFC 7230 qdtext: HTAB, SP, VCHAR but `"` and `\`, obs-text (Node hands header bytes over as Latin-1). */
function isQuotedText(code: number): boolean {
  return (
    code === 0x09 ||
    code === 0x20 ||
    code === 0x21 ||
    (code >= 0x23 && code <= 0x7e && code !== 0x5c) ||
    (code >= 0x80 && code <= 0xff)
  );
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
