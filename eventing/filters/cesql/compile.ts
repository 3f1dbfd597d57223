/** Compile once when a Trigger is loaded, evaluate per event. */
import type { CesqlNode } from "./ast.ts";
import type { CesqlError } from "./errors.ts";
import { type CompileNotes, compileNode, type Evaluator } from "./evaluator.ts";
import { BUILT_IN_FUNCTIONS, type CesqlFunction, type FunctionTable, userDefinition } from "./functions.ts";
import { parse } from "./parser.ts";
import { print } from "./printer.ts";
import type { CesqlEvent, CesqlValue, EvalState } from "./types.ts";

export interface CesqlResult {
  /** Always a value, even with errors: the zero value of the failing expression's type in that case. */
  readonly value: CesqlValue;
  /** At most one error: evaluation stops at the first one (fail-fast mode, spec §4.1). */
  readonly errors: readonly CesqlError[];
}

export interface CompiledCesql {
  /** The expression as given. */
  readonly source: string;
  /** The expression re-printed with explicit parentheses, for logs. */
  readonly canonical: string;
  readonly ast: CesqlNode;
  /** `NAME/arity` of calls no function matches; each such call evaluates to false with a missingFunction error. */
  readonly unknownFunctions: readonly string[];
  evaluate(event: CesqlEvent): CesqlResult;
  /** The filter verdict: see matchesCesql. */
  matches(event: CesqlEvent): boolean;
}

export interface CompileOptions {
  /** User-defined functions, added to the built-ins under the overloading rules of spec §3.5. */
  readonly functions?: readonly CesqlFunction[];
}

const NO_ERRORS: readonly CesqlError[] = Object.freeze([]);

/** Parses and compiles a CESQL v1 expression; throws CesqlParseError (with its position) when it is not valid. */
export function compileCesql(expression: string, options: CompileOptions = {}): CompiledCesql {
  if (typeof expression !== "string") throw new TypeError("a CESQL expression must be a string");
  const ast = parse(expression);
  const notes: CompileNotes = { unknownFunctions: [] };
  const root: Evaluator = compileNode(ast, functionTable(options.functions), notes);
  return {
    source: expression,
    canonical: print(ast),
    ast,
    unknownFunctions: Object.freeze(notes.unknownFunctions),
    evaluate(event) {
      const state: EvalState = { event, error: null };
      const value = root(state);
      return { value, errors: state.error ? [state.error] : NO_ERRORS };
    },
    matches(event) {
      const state: EvalState = { event, error: null };
      return root(state) === true && state.error === null;
    },
  };
}

/**
 * Whether an event passes a CESQL filter: only a Boolean true without any error does (spec §1.2). This is Knative's
 * rule too (pkg/eventfilter/subscriptionsapi/cesql_filter.go fails the filter on any evaluation error), except that a
 * non-Boolean result, on which Knative's type assertion would panic, simply does not match.
 */
export function matchesCesql(compiled: CompiledCesql, event: CesqlEvent): boolean {
  return compiled.matches(event);
}

function functionTable(functions: readonly CesqlFunction[] | undefined): FunctionTable {
  if (!functions || functions.length === 0) return BUILT_IN_FUNCTIONS;
  const table = BUILT_IN_FUNCTIONS.copy();
  for (const fn of functions) table.add(userDefinition(fn));
  return table;
}
