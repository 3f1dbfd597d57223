/**
 * Function table: the built-ins of spec §3.5 plus the casting functions of sdk-go (INT, BOOL, STRING, IS_INT,
 * IS_BOOL) that the TCK and Knative users rely on, overloaded by arity (§3.5), with user-defined functions on top.
 */
import { canCast, toBoolean, toInteger, toStringValue } from "./casting.ts";
import { functionEvaluationError, mathError } from "./errors.ts";
import {
  type CesqlEvent,
  type CesqlType,
  type CesqlValue,
  type CesqlValueType,
  type EvalState,
  INT32_MAX,
  INT32_MIN,
  typeOfValue,
  zeroValue,
} from "./types.ts";

/**
 * Runs with arguments already cast to the parameter types. A failing built-in records its error in `state.error` and
 * still returns a value of its return type (spec §3.5.3).
 */
type Implementation = (args: CesqlValue[], state: EvalState) => CesqlValue;

export interface FunctionDefinition {
  /** Upper-case; letters and underscores. */
  readonly name: string;
  readonly parameters: readonly CesqlType[];
  /** Type of the trailing arguments of a variadic function. */
  readonly variadic?: CesqlType;
  readonly returns: CesqlValueType;
  readonly implementation: Implementation;
}

/** A user-defined function (spec §3.5: engines SHOULD let users define their own). */
export interface CesqlFunction {
  /** Letters and underscores, case-insensitive. */
  readonly name: string;
  readonly parameters: readonly CesqlType[];
  readonly variadic?: CesqlType;
  readonly returns: CesqlValueType;
  /**
   * Receives the arguments cast to the declared types and the event. Throwing fails the call: the result is the
   * zero value of `returns` (or the `value` of a thrown CesqlFunctionError) with a functionEvaluation error.
   */
  readonly call: (args: readonly CesqlValue[], event: CesqlEvent) => CesqlValue;
}

/** Thrown by a user-defined function to fail with a specific value, as built-ins like LEFT do. */
export class CesqlFunctionError extends Error {
  readonly value: CesqlValue | undefined;
  constructor(message: string, value?: CesqlValue) {
    super(message);
    this.name = "CesqlFunctionError";
    this.value = value;
  }
}

export class FunctionTable {
  readonly #fixed = new Map<string, Map<number, FunctionDefinition>>();
  readonly #variadic = new Map<string, FunctionDefinition>();

  /** Overload rules of spec §3.5: one definition per name and arity, at most one variadic one, after all others. */
  add(definition: FunctionDefinition): void {
    const { name } = definition;
    if (!/^[A-Z][A-Z_]*$/.test(name)) throw new TypeError(`invalid CESQL function name '${name}'`);
    const fixed = this.#fixed.get(name) ?? new Map<number, FunctionDefinition>();
    const arity = definition.parameters.length;
    const variadic = this.#variadic.get(name);
    if (definition.variadic !== undefined) {
      if (variadic) throw new TypeError(`CESQL function ${name} already has a variadic definition`);
      if ([...fixed.keys()].some((other) => other >= arity)) {
        throw new TypeError(`variadic CESQL function ${name} needs more fixed parameters than its other definitions`);
      }
      this.#variadic.set(name, definition);
    } else {
      if (fixed.has(arity))
        throw new TypeError(`CESQL function ${name} already has a definition with ${arity} parameters`);
      if (variadic && variadic.parameters.length <= arity) {
        throw new TypeError(`CESQL function ${name}/${arity} would be ambiguous with its variadic definition`);
      }
      fixed.set(arity, definition);
    }
    this.#fixed.set(name, fixed);
  }

  resolve(name: string, arity: number): FunctionDefinition | undefined {
    const exact = this.#fixed.get(name)?.get(arity);
    if (exact) return exact;
    const variadic = this.#variadic.get(name);
    return variadic && arity >= variadic.parameters.length ? variadic : undefined;
  }

  copy(): FunctionTable {
    const table = new FunctionTable();
    for (const [name, byArity] of this.#fixed) table.#fixed.set(name, new Map(byArity));
    for (const [name, definition] of this.#variadic) table.#variadic.set(name, definition);
    return table;
  }
}

/** Wraps a user-defined function so that it honours the totality rules of spec §3.5.3. */
export function userDefinition(fn: CesqlFunction): FunctionDefinition {
  const name = fn.name.toUpperCase();
  return {
    name,
    parameters: fn.parameters,
    ...(fn.variadic === undefined ? {} : { variadic: fn.variadic }),
    returns: fn.returns,
    implementation: (args, state) => {
      let failure: string;
      let value: CesqlValue | undefined;
      try {
        const result = fn.call(args, state.event);
        if (isValueOf(result, fn.returns)) return result;
        failure = `function ${name} returned a value that is not ${fn.returns}`;
      } catch (error) {
        failure = `function ${name} failed: ${error instanceof Error ? error.message : String(error)}`;
        if (error instanceof CesqlFunctionError && isValueOf(error.value, fn.returns)) value = error.value;
      }
      state.error = functionEvaluationError(failure);
      return value ?? zeroValue(fn.returns);
    },
  };
}

function isValueOf(value: unknown, type: CesqlValueType): value is CesqlValue {
  if (typeof value === "number")
    return type === "Integer" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
  return (typeof value === "string" || typeof value === "boolean") && typeOfValue(value) === type;
}

// Strings are measured and cut in characters (code points), not UTF-16 units: spec §3.5.1 speaks of characters.
const HAS_SURROGATE = /[\uD800-\uDFFF]/;
const characters = (text: string): string | string[] => (HAS_SURROGATE.test(text) ? Array.from(text) : text);
const slice = (chars: string | string[], start: number, end?: number): string =>
  typeof chars === "string" ? chars.slice(start, end) : chars.slice(start, end).join("");

// Unicode White_Space (spec §3.5.1 TRIM); unlike String#trim this keeps U+FEFF and removes U+0085.
const LEADING_SPACE = /^\p{White_Space}+/u;
const TRAILING_SPACE = /\p{White_Space}+$/u;

const str = (v: CesqlValue | undefined) => v as string;
const int = (v: CesqlValue | undefined) => v as number;

const BUILT_INS: readonly FunctionDefinition[] = [
  // Casting functions: Any parameter, so the cast happens (and fails) inside, with the function's zero value.
  { name: "INT", parameters: ["Any"], returns: "Integer", implementation: ([x], s) => toInteger(x as CesqlValue, s) },
  { name: "BOOL", parameters: ["Any"], returns: "Boolean", implementation: ([x], s) => toBoolean(x as CesqlValue, s) },
  { name: "STRING", parameters: ["Any"], returns: "String", implementation: ([x]) => toStringValue(x as CesqlValue) },
  {
    name: "IS_INT",
    parameters: ["Any"],
    returns: "Boolean",
    implementation: ([x]) => canCast(x as CesqlValue, "Integer"),
  },
  {
    name: "IS_BOOL",
    parameters: ["Any"],
    returns: "Boolean",
    implementation: ([x]) => canCast(x as CesqlValue, "Boolean"),
  },
  {
    name: "ABS",
    parameters: ["Integer"],
    returns: "Integer",
    implementation: ([x], s) => {
      if (x === INT32_MIN) {
        s.error = mathError("ABS(-2147483648) overflows a 32-bit integer");
        return INT32_MAX;
      }
      return Math.abs(int(x));
    },
  },
  {
    name: "LENGTH",
    parameters: ["String"],
    returns: "Integer",
    implementation: ([x]) => characters(str(x)).length,
  },
  { name: "CONCAT", parameters: [], variadic: "String", returns: "String", implementation: (xs) => xs.join("") },
  {
    name: "CONCAT_WS",
    parameters: ["String"],
    variadic: "String",
    returns: "String",
    implementation: ([separator, ...xs]) => xs.join(str(separator)),
  },
  { name: "LOWER", parameters: ["String"], returns: "String", implementation: ([x]) => str(x).toLowerCase() },
  { name: "UPPER", parameters: ["String"], returns: "String", implementation: ([x]) => str(x).toUpperCase() },
  {
    name: "TRIM",
    parameters: ["String"],
    returns: "String",
    implementation: ([x]) => str(x).replace(LEADING_SPACE, "").replace(TRAILING_SPACE, ""),
  },
  {
    name: "LEFT",
    parameters: ["String", "Integer"],
    returns: "String",
    implementation: ([x, y], s) => {
      if (int(y) < 0) {
        s.error = functionEvaluationError("LEFT needs a length that is not negative");
        return str(x);
      }
      return slice(characters(str(x)), 0, int(y));
    },
  },
  {
    name: "RIGHT",
    parameters: ["String", "Integer"],
    returns: "String",
    implementation: ([x, y], s) => {
      if (int(y) < 0) {
        s.error = functionEvaluationError("RIGHT needs a length that is not negative");
        return str(x);
      }
      const chars = characters(str(x));
      return int(y) >= chars.length ? str(x) : slice(chars, chars.length - int(y));
    },
  },
  {
    name: "SUBSTRING",
    parameters: ["String", "Integer"],
    returns: "String",
    implementation: ([x, pos], s) => substring(str(x), int(pos), undefined, s),
  },
  {
    name: "SUBSTRING",
    parameters: ["String", "Integer", "Integer"],
    returns: "String",
    implementation: ([x, pos, len], s) => substring(str(x), int(pos), int(len), s),
  },
];

/**
 * 1-based `pos`, counted from the end when negative; `pos` 0 is the empty string. Out-of-range positions and negative
 * lengths fail with the empty string (spec §3.5.1).
 */
function substring(x: string, pos: number, len: number | undefined, state: EvalState): string {
  const chars = characters(x);
  if (pos > chars.length || pos < -chars.length) {
    state.error = functionEvaluationError(
      `SUBSTRING position ${pos} is outside a string of ${chars.length} characters`,
    );
    return "";
  }
  if (len !== undefined && len < 0) {
    state.error = functionEvaluationError("SUBSTRING needs a length that is not negative");
    return "";
  }
  if (pos === 0) return "";
  const begin = pos < 0 ? chars.length + pos : pos - 1;
  return slice(chars, begin, len === undefined ? undefined : begin + len);
}

export const BUILT_IN_FUNCTIONS: FunctionTable = (() => {
  const table = new FunctionTable();
  for (const definition of BUILT_INS) table.add(definition);
  return table;
})();
