/**
 * Split text that exceeds a platform's per-message limit into parts that each fit, preferring to break between
 * paragraphs, then lines, then words, and only then inside a word. Limits are counted in the unit the platform
 * counts: UTF-16 code units (Slack, Discord, Telegram count characters of the JS string sent) or UTF-8 bytes.
 * Surrogate pairs are never cut in half. Nothing is ever dropped here: how many parts a platform gets, and where the
 * rest goes, is long-answer.ts's decision.
 */
export type LengthUnit = "utf16" | "utf8";

export interface SplitOptions {
  limit: number;
  unit?: LengthUnit;
}

/** One part and where it ends in the original text (the whitespace at a cut belongs to neither side). */
export interface Piece {
  text: string;
  end: number;
}

const utf8 = new TextEncoder();

export function measure(text: string, unit: LengthUnit): number {
  return unit === "utf8" ? utf8.encode(text).byteLength : text.length;
}

export function splitText(text: string, options: SplitOptions): string[] {
  return splitPieces(text, options).map((piece) => piece.text);
}

export function splitPieces(text: string, options: SplitOptions): Piece[] {
  const unit = options.unit ?? "utf16";
  const limit = options.limit;
  if (!Number.isInteger(limit) || limit < 8) throw new Error("split limit must be an integer of at least 8");
  if (measure(text, unit) <= limit) return [{ text, end: text.length }];
  const pieces: Piece[] = [];
  let at = skipSpace(text, 0);
  while (measure(text.slice(at), unit) > limit) {
    const cut = at + chooseCut(text.slice(at), limit, unit);
    const head = text.slice(at, cut).replace(/\s+$/, "");
    if (head !== "") pieces.push({ text: head, end: cut });
    at = skipSpace(text, cut);
  }
  const rest = text.slice(at);
  if (rest !== "") pieces.push({ text: rest, end: text.length });
  return pieces;
}

/** The first part of `text` that fits `limit`, cut at the best natural boundary, and where it ends. */
export function firstPiece(text: string, limit: number, unit: LengthUnit = "utf16"): Piece {
  if (measure(text, unit) <= limit) return { text, end: text.length };
  const cut = chooseCut(text, limit, unit);
  return { text: text.slice(0, cut).replace(/\s+$/, ""), end: cut };
}

/** The index of the first non-space character at or after `from`. */
export function skipSpace(text: string, from: number): number {
  let at = from;
  while (at < text.length && /\s/.test(text[at]!)) at += 1;
  return at;
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
