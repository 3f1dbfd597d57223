/**
 * Turns a syntax tree into nested closures once, so that evaluating a filter per event is a handful of calls with no
 * tree walking, no allocation on the success path and no exceptions.
 *
 * Error semantics are sdk-go's (which Knative runs) and the TCK's: operands are evaluated left to right; when one
 * fails, the operator returns the zero value of its own return type and evaluates nothing further, so the first error
 * wins and travels to the top. A function that fails after running returns its own value with the error (LEFT('abc',
 * -2) is 'abc'), and only an enclosing operator turns that into a zero value.
 */
import type { BinaryOperator, CesqlNode } from "./ast.ts";
import { castTo, toBoolean, toInteger, toStringValue } from "./casting.ts";
import { mathError, missingAttributeError, missingFunctionError } from "./errors.ts";
import type { FunctionTable } from "./functions.ts";
import { compileLike } from "./like.ts";
import {
  type CesqlEvent,
  type CesqlValue,
  type EvalState,
  INT32_MAX,
  INT32_MIN,
  typeOfValue,
  zeroValue,
} from "./types.ts";

export type Evaluator = (state: EvalState) => CesqlValue;

/** What compiling found that will fail every evaluation reaching it. */
export interface CompileNotes {
  readonly unknownFunctions: string[];
}

export function compileNode(node: CesqlNode, functions: FunctionTable, notes: CompileNotes): Evaluator {
  switch (node.kind) {
    case "literal": {
      const value = node.value;
      return () => value;
    }
    case "identifier": {
      const name = node.name;
      return (s) => {
        const value = readAttribute(s.event, name);
        if (value !== undefined) return value;
        // The type of a bare attribute is unknown, so its zero value is the Boolean one (spec §3.2).
        s.error = missingAttributeError(name);
        return false;
      };
    }
    case "exists": {
      const name = node.name;
      // Spec §3.4.4: the REQUIRED attributes always exist, the event being valid by assumption.
      if (REQUIRED_ATTRIBUTES.has(name)) return () => true;
      return (s) => readAttribute(s.event, name) !== undefined;
    }
    case "not": {
      const operand = compileNode(node.operand, functions, notes);
      return (s) => {
        const value = operand(s);
        if (s.error) return false;
        const b = typeof value === "boolean" ? value : toBoolean(value, s);
        return s.error ? false : !b;
      };
    }
    case "negate": {
      const operand = compileNode(node.operand, functions, notes);
      return (s) => {
        const value = operand(s);
        if (s.error) return 0;
        const n = typeof value === "number" ? value : toInteger(value, s);
        // -(-2147483648) wraps to itself, as 32-bit two's complement (and Go's int32) does.
        return s.error ? 0 : -n | 0;
      };
    }
    case "binary":
      return compileBinary(
        node.operator,
        compileNode(node.left, functions, notes),
        compileNode(node.right, functions, notes),
      );
    case "like": {
      const operand = compileNode(node.operand, functions, notes);
      const matches = compileLike(node.pattern);
      const negated = node.negated;
      return (s) => {
        const value = operand(s);
        if (s.error) return false;
        return matches(toStringValue(value)) !== negated;
      };
    }
    case "in":
      return compileIn(
        compileNode(node.operand, functions, notes),
        node.set.map((item) => compileNode(item, functions, notes)),
        node.negated,
      );
    case "call":
      return compileCall(
        node.name,
        node.args.map((arg) => compileNode(arg, functions, notes)),
        functions,
        notes,
      );
  }
}

function compileBinary(operator: BinaryOperator, left: Evaluator, right: Evaluator): Evaluator {
  switch (operator) {
    case "AND":
    case "OR": {
      // Short-circuit (spec §3.4.2): the right operand is not evaluated, so its errors cannot happen.
      const decisive = operator === "OR";
      return (s) => {
        const l = left(s);
        if (s.error) return false;
        const lb = typeof l === "boolean" ? l : toBoolean(l, s);
        if (s.error) return false;
        if (lb === decisive) return decisive;
        const r = right(s);
        if (s.error) return false;
        const rb = typeof r === "boolean" ? r : toBoolean(r, s);
        return s.error ? false : rb;
      };
    }
    case "XOR":
      return (s) => {
        const l = left(s);
        if (s.error) return false;
        const r = right(s);
        if (s.error) return false;
        const lb = toBoolean(l, s);
        if (s.error) return false;
        const rb = toBoolean(r, s);
        return s.error ? false : lb !== rb;
      };
    case "=":
    case "!=":
    case "<>": {
      const equal = operator === "=";
      // `=` is ambiguous (Boolean, Integer and String versions); spec §3.7 picks the one matching the right operand.
      return (s) => {
        const l = left(s);
        if (s.error) return false;
        const r = right(s);
        if (s.error) return false;
        const cast = typeof l === typeof r ? l : castTo(l, typeOfValue(r), s);
        return s.error ? false : (cast === r) === equal;
      };
    }
    case "<":
      return integerComparison(left, right, (a, b) => a < b);
    case "<=":
      return integerComparison(left, right, (a, b) => a <= b);
    case ">":
      return integerComparison(left, right, (a, b) => a > b);
    case ">=":
      return integerComparison(left, right, (a, b) => a >= b);
    // Integer arithmetic wraps around like 32-bit two's complement (Go's int32, hence Knative): the spec defines no
    // overflow error for + - * /, only for ABS.
    case "+":
      return arithmetic(left, right, (a, b) => (a + b) | 0);
    case "-":
      return arithmetic(left, right, (a, b) => (a - b) | 0);
    case "*":
      return arithmetic(left, right, Math.imul);
    case "/":
      // Truncated division; |0 truncates toward zero and wraps -2147483648 / -1 like int32 does.
      return arithmetic(left, right, (a, b, s) => (b === 0 ? divisionByZero(s) : (a / b) | 0));
    case "%":
      // JS % keeps the dividend's sign, as spec §3.4.2 requires; |0 turns -0 into 0.
      return arithmetic(left, right, (a, b, s) => (b === 0 ? divisionByZero(s) : (a % b) | 0));
  }
}

function divisionByZero(s: EvalState): number {
  s.error = mathError("division by zero");
  return 0;
}

function arithmetic(left: Evaluator, right: Evaluator, op: (a: number, b: number, s: EvalState) => number): Evaluator {
  return (s) => {
    const l = left(s);
    if (s.error) return 0;
    const r = right(s);
    if (s.error) return 0;
    const a = typeof l === "number" ? l : toInteger(l, s);
    if (s.error) return 0;
    const b = typeof r === "number" ? r : toInteger(r, s);
    return s.error ? 0 : op(a, b, s);
  };
}

function integerComparison(left: Evaluator, right: Evaluator, op: (a: number, b: number) => boolean): Evaluator {
  return (s) => {
    const l = left(s);
    if (s.error) return false;
    const r = right(s);
    if (s.error) return false;
    const a = typeof l === "number" ? l : toInteger(l, s);
    if (s.error) return false;
    const b = typeof r === "number" ? r : toInteger(r, s);
    return s.error ? false : op(a, b);
  };
}

/**
 * `x IN (y1, ...)` compares like `=` but casts each element to the type of `x` (spec §3.7), and stops at the first
 * match: later elements are not evaluated, so their errors cannot happen (sdk-go).
 */
function compileIn(operand: Evaluator, set: Evaluator[], negated: boolean): Evaluator {
  return (s) => {
    const x = operand(s);
    if (s.error) return false;
    const type = typeOfValue(x);
    for (const item of set) {
      const y = item(s);
      if (s.error) return false;
      const cast = typeof y === typeof x ? y : castTo(y, type, s);
      if (s.error) return false;
      if (cast === x) return !negated;
    }
    return negated;
  };
}

function compileCall(name: string, args: Evaluator[], functions: FunctionTable, notes: CompileNotes): Evaluator {
  const definition = functions.resolve(name, args.length);
  if (!definition) {
    notes.unknownFunctions.push(`${name}/${args.length}`);
    // Spec §3.5: a call that cannot be dispatched is false with a MissingFunctionError; arguments are not evaluated.
    return (s) => {
      s.error = missingFunctionError(name, args.length);
      return false;
    };
  }
  const { parameters, implementation } = definition;
  const zero = zeroValue(definition.returns);
  const types = args.map((_, i) => parameters[i] ?? definition.variadic ?? "Any");
  return (s) => {
    const values: CesqlValue[] = new Array(args.length);
    for (let i = 0; i < args.length; i++) {
      const value = (args[i] as Evaluator)(s);
      if (s.error) return zero;
      values[i] = castTo(value, types[i] ?? "Any", s);
      if (s.error) return zero;
    }
    return implementation(values, s);
  };
}

const REQUIRED_ATTRIBUTES: ReadonlySet<string> = new Set(["specversion", "id", "source", "type"]);

/**
 * The value of an attribute or extension as a CESQL value, or undefined when the event does not carry it. Only own
 * properties count, so `constructor` or `toString` never resolve to Object.prototype members. Values of other types
 * are represented as Strings (spec §3.2); numbers outside the 32-bit range or with a fraction are not CESQL Integers.
 */
function readAttribute(event: CesqlEvent, name: string): CesqlValue | undefined {
  if (!Object.hasOwn(event, name)) return undefined;
  const raw = event[name];
  switch (typeof raw) {
    case "string":
    case "boolean":
      return raw;
    case "number":
      return Number.isInteger(raw) && raw >= INT32_MIN && raw <= INT32_MAX ? raw | 0 : String(raw);
    case "bigint":
      return raw >= INT32_MIN && raw <= INT32_MAX ? Number(raw) : String(raw);
    case "undefined":
      return undefined;
    default:
      if (raw === null) return undefined;
      if (raw instanceof Date) return raw.toISOString();
      // CloudEvents Binary attributes are represented base64-encoded, as in the JSON format.
      if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64");
      return String(raw);
  }
}
