/**
 * CESQL v1 error model (spec §3.3). Evaluation never throws: every operator and function is total, so an error is
 * reported next to a value. Only parsing throws, because an expression that does not parse has no value at all and a
 * Trigger carrying it must be rejected when it is loaded.
 */

/** The error kinds of spec §3.3, spelled as the official TCK spells them. */
type CesqlErrorKind =
  | "parse"
  | "math"
  | "cast"
  | "missingAttribute"
  | "missingFunction"
  | "functionEvaluation"
  | "generic";

/** An error collected while evaluating an expression. */
export interface CesqlError {
  readonly kind: Exclude<CesqlErrorKind, "parse">;
  readonly message: string;
}

/** An expression that is not valid CESQL v1; `position` is the 0-based offset of the offending character. */
export class CesqlParseError extends Error {
  readonly kind = "parse";
  readonly position: number;
  /** 1-based line and column of `position`, for humans reading a Trigger manifest. */
  readonly line: number;
  readonly column: number;
  /** The problem without the location prefix. */
  readonly reason: string;

  constructor(expression: string, position: number, reason: string) {
    const { line, column } = locate(expression, position);
    super(`invalid CESQL expression at line ${line}, column ${column}: ${reason}`);
    this.name = "CesqlParseError";
    this.position = position;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

function locate(expression: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < expression.length; i++) {
    if (expression.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

export const mathError = (message: string): CesqlError => ({ kind: "math", message });
export const castError = (message: string): CesqlError => ({ kind: "cast", message });
export const missingAttributeError = (name: string): CesqlError => ({
  kind: "missingAttribute",
  message: `attribute '${name}' is not present on the event`,
});
export const missingFunctionError = (name: string, arity: number): CesqlError => ({
  kind: "missingFunction",
  message: `no function ${name} accepts ${arity} argument${arity === 1 ? "" : "s"}`,
});
export const functionEvaluationError = (message: string): CesqlError => ({ kind: "functionEvaluation", message });
