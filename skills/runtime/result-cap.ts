import type { ToolError, ToolOutcome } from "../../eventing/catalog/index.ts";
import { toolError } from "./tool-error.ts";

/**
 * The largest result (its JSON, in bytes) a skill ever replies with, whatever its manifest says: a quarter of the
 * broker's 4 MiB event limit, so the tool.completed around it is never refused. A refused reply fails the delivery of
 * tool.requested, and the broker's retry would run the tool again.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;

/** What a result over the limit becomes: the tool succeeded, and the model is told its answer was cut. */
interface TruncatedResult {
  truncated: true;
  note: string;
  outputBytes: number;
  limitBytes: number;
  /** The start of the result's JSON text. */
  preview: string;
}

/** Room kept for the fields around the preview (note, sizes, JSON punctuation). */
const ENVELOPE_BYTES = 512;

/**
 * The outcome a tool's result is answered with: the result itself when its JSON fits `maxBytes`; else a
 * TruncatedResult whose whole JSON fits `maxBytes` (the preview is cut by its encoded size, escapes included).
 */
export function capResult(result: unknown, maxBytes: number): ToolOutcome {
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch {
    return { ok: false, error: toolError("Internal", "the tool returned a value that is not JSON") };
  }
  if (text === undefined) return { ok: true, result: null };
  const outputBytes = Buffer.byteLength(text);
  if (outputBytes <= maxBytes) return { ok: true, result: JSON.parse(text) };
  const preview = fittingPrefix(text, Math.max(0, maxBytes - ENVELOPE_BYTES));
  const truncated: TruncatedResult = {
    truncated: true,
    note: `the tool succeeded, but its result (${outputBytes} bytes of JSON) exceeds the limit of ${maxBytes} bytes: only the start of it follows, as text`,
    outputBytes,
    limitBytes: maxBytes,
    preview,
  };
  return { ok: true, result: truncated };
}

/** The longest prefix of `text` whose JSON string encoding takes at most `budget` bytes. */
function fittingPrefix(text: string, budget: number): string {
  let length = Math.min(text.length, budget);
  for (;;) {
    let prefix = text.slice(0, length);
    // Never end on the first half of a surrogate pair.
    if (/[\ud800-\udbff]$/.test(prefix)) prefix = prefix.slice(0, -1);
    const encoded = Buffer.byteLength(JSON.stringify(prefix));
    if (encoded <= budget) return prefix;
    // Shrink in proportion to the overshoot (escapes make some characters take up to 6 bytes).
    length = Math.min(prefix.length - 1, Math.floor((prefix.length * budget) / encoded));
  }
}

/** A typed error whose details would not fit `maxBytes` keeps its class and message, and says its details were cut. */
export function capErrorDetails(error: ToolError, maxBytes: number): ToolError {
  if (error.details === undefined) return error;
  const detailsBytes = Buffer.byteLength(JSON.stringify(error.details));
  if (detailsBytes <= maxBytes) return error;
  return { ...error, details: { truncated: true, detailsBytes, limitBytes: maxBytes } };
}
