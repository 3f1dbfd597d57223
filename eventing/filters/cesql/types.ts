import type { CesqlError } from "./errors.ts";

/** A CESQL value (spec §3.1): Integer is a JS number always kept inside the signed 32-bit range. */
export type CesqlValue = boolean | number | string;

/** Parameter and return types; `Any` means "no implicit cast" and exists only for parameters (INT(x), BOOL(x), ...). */
export type CesqlType = "Boolean" | "Integer" | "String" | "Any";
export type CesqlValueType = Exclude<CesqlType, "Any">;

/** The event as the filter sees it: CloudEvent context attributes and extensions by name. */
export type CesqlEvent = Readonly<Record<string, unknown>>;

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function typeOfValue(value: CesqlValue): CesqlValueType {
  return typeof value === "string" ? "String" : typeof value === "number" ? "Integer" : "Boolean";
}

/** Zero values of spec §3.1, returned by an operator or function whenever it fails. */
export function zeroValue(type: CesqlValueType): CesqlValue {
  return type === "Integer" ? 0 : type === "String" ? "" : false;
}

/**
 * State of one evaluation. The first error ends the evaluation ("fail fast", spec §4.1, which §1.2 recommends for
 * filters and which Knative's sdk-go engine implements): every operator whose operand failed returns its own zero value
 * without looking further, so `error` is set at most once.
 */
export interface EvalState {
  readonly event: CesqlEvent;
  error: CesqlError | null;
}
