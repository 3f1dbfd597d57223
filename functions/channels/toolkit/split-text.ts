/**
 * Split text that exceeds a platform's per-message limit into parts that each fit, preferring to break between
 * paragraphs, then lines, then words, and only then inside a word. Limits are counted in the unit the platform
 * counts: UTF-16 code units (Slack, Discord, Telegram count characters of the JS string sent) or UTF-8 bytes.
 * Surrogate pairs are never cut in half.
 */
export type LengthUnit = "utf16" | "utf8";

export interface SplitOptions {
  limit: number;
  unit?: LengthUnit;
  /** At most this many parts; the last part is cut with an ellipsis when the text needs more. */
  maxParts?: number;
}

const utf8 = new TextEncoder();

export function measure(text: string, unit: LengthUnit): number {
  return unit === "utf8" ? utf8.encode(text).byteLength : text.length;
}

export function splitText(text: string, options: SplitOptions): string[] {
  const unit = options.unit ?? "utf16";
  const limit = options.limit;
  if (!Number.isInteger(limit) || limit < 8) throw new Error("split limit must be an integer of at least 8");
  if (measure(text, unit) <= limit) return [text];
  const parts: string[] = [];
  let rest = text;
  while (measure(rest, unit) > limit) {
    const cut = chooseCut(rest, limit, unit);
    const head = rest.slice(0, cut).replace(/\s+$/, "");
    if (head !== "") parts.push(head);
    rest = rest.slice(cut).replace(/^\s+/, "");
  }
  if (rest !== "") parts.push(rest);
  return capParts(parts, options.maxParts, limit, unit);
}

/** The largest prefix length that fits, moved back to the best natural boundary in its second half. */
function chooseCut(text: string, limit: number, unit: LengthUnit): number {
  let fit = largestFittingPrefix(text, limit, unit);
  if (fit < text.length && isLowSurrogate(text.charCodeAt(fit))) fit -= 1;
  const window = text.slice(0, fit);
  const floor = Math.floor(fit / 2);
  for (const boundary of ["\n\n", "\n", " "]) {
    const at = window.lastIndexOf(boundary);
    if (at >= floor) return at + boundary.length;
  }
  return Math.max(fit, 1);
}

function largestFittingPrefix(text: string, limit: number, unit: LengthUnit): number {
  if (unit === "utf16") return Math.min(limit, text.length);
  let bytes = 0;
  let index = 0;
  for (const char of text) {
    const size = utf8.encode(char).byteLength;
    if (bytes + size > limit) break;
    bytes += size;
    index += char.length;
  }
  return index;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function capParts(parts: string[], maxParts: number | undefined, limit: number, unit: LengthUnit): string[] {
  if (maxParts === undefined || parts.length <= maxParts) return parts;
  const kept = parts.slice(0, maxParts);
  const ellipsis = "…";
  let last = kept[maxParts - 1]!;
  while (last.length > 0 && measure(`${last}${ellipsis}`, unit) > limit) {
    last = last.slice(0, isLowSurrogate(last.charCodeAt(last.length - 1)) ? -2 : -1);
  }
  kept[maxParts - 1] = `${last}${ellipsis}`;
  return kept;
}
