/**
 * Implicit and explicit casts between CESQL types (spec §3.7). Error messages never quote the value: it comes from the
 * event, and errors end up in logs.
 */
import { castError } from "./errors.ts";
import { type CesqlType, type CesqlValue, type EvalState, INT32_MAX, INT32_MIN } from "./types.ts";

// Base 10, optional sign, ASCII digits only: no blanks, no "0x", no "1e3", no "1_000" (spec §3.7, Go's ParseInt).
const INTEGER_TEXT = /^[+-]?[0-9]+$/;

/** Strings that are not 32-bit integers fail with value 0, as spec §3.7 says (Go would clamp; the spec is explicit). */
function parseInteger(text: string): number | undefined {
  if (!INTEGER_TEXT.test(text)) return undefined;
  const n = Number(text);
  return n >= INT32_MIN && n <= INT32_MAX ? n | 0 : undefined;
}

export function toInteger(value: CesqlValue, state: EvalState): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  const n = parseInteger(value);
  if (n !== undefined) return n;
  state.error = castError("cannot cast a String that is not a base-10 32-bit integer to Integer");
  return 0;
}

export function toBoolean(value: CesqlValue, state: EvalState): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  state.error = castError('cannot cast a String other than "true" or "false" (any case) to Boolean');
  return false;
}

export function toStringValue(value: CesqlValue): string {
  return typeof value === "string" ? value : String(value);
}

export function castTo(value: CesqlValue, type: CesqlType, state: EvalState): CesqlValue {
  switch (type) {
    case "Integer":
      return toInteger(value, state);
    case "Boolean":
      return toBoolean(value, state);
    case "String":
      return toStringValue(value);
    case "Any":
      return value;
  }
}

/** Whether a cast would succeed, without recording an error (IS_INT, IS_BOOL). */
export function canCast(value: CesqlValue, type: CesqlType): boolean {
  if (type !== "Integer" && type !== "Boolean") return true;
  if (typeof value !== "string") return true;
  if (type === "Integer") return parseInteger(value) !== undefined;
  const lower = value.toLowerCase();
  return lower === "true" || lower === "false";
}
