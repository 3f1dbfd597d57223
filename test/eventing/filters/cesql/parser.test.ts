import { describe, expect, it } from "vitest";
import {
  CESQL_MAX_DEPTH,
  type CesqlNode,
  CesqlParseError,
  compileCesql,
  parseCesql,
  printCesql,
} from "../../../../eventing/filters/cesql/index.ts";
import { withoutSpans } from "./support/tree.ts";

const canonical = (expression: string) => compileCesql(expression).canonical;
const evaluated = (expression: string, event: Record<string, unknown> = {}) => compileCesql(expression).evaluate(event);

function parseError(expression: string): CesqlParseError {
  try {
    compileCesql(expression);
  } catch (error) {
    if (error instanceof CesqlParseError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(expression)} not to parse`);
}

describe("operator precedence and associativity (CESQLParser.g4 as ANTLR compiles it)", () => {
  it.each([
    ["1 + 2 * 3", "1 + (2 * 3)"],
    ["1 * 2 + 3", "(1 * 2) + 3"],
    ["1 - 2 - 3", "(1 - 2) - 3"],
    ["8 / 4 / 2", "(8 / 4) / 2"],
    ["1 + 2 = 3", "(1 + 2) = 3"],
    ["1 = 1 = TRUE", "(1 = 1) = TRUE"],
    ["1 < 2 AND 3 > 2", "(1 < 2) AND (3 > 2)"],
    // AND, OR and XOR share one level and associate to the right: not the SQL reading.
    ["a AND b OR c", "a AND (b OR c)"],
    ["a OR b AND c", "a OR (b AND c)"],
    ["a XOR b AND c", "a XOR (b AND c)"],
    ["a AND b AND c", "a AND (b AND c)"],
    // Prefix operators take a single primary.
    ["NOT a = b", "(NOT a) = b"],
    ["NOT a LIKE 'x'", "(NOT a) LIKE 'x'"],
    ["NOT a IN (TRUE)", "(NOT a) IN (TRUE)"],
    ["- a * b", "(- a) * b"],
    ["NOT NOT a", "NOT (NOT a)"],
    ["- - a", "- (- a)"],
    ["NOT EXISTS a", "NOT EXISTS a"],
    // LIKE binds tighter than IN, which binds tighter than arithmetic.
    ["a + b LIKE 'x'", "a + (b LIKE 'x')"],
    ["a * b IN (1)", "a * (b IN (1))"],
    ["a LIKE 'x' IN (TRUE)", "(a LIKE 'x') IN (TRUE)"],
    ["a IN (1) LIKE 't%'", "(a IN (1)) LIKE 't%'"],
    ["a IN (1) = TRUE", "(a IN (1)) = TRUE"],
    ["a NOT LIKE 'x' AND b NOT IN (1, 2)", "(a NOT LIKE 'x') AND (b NOT IN (1, 2))"],
    ["(a OR b) AND c", "(a OR b) AND c"],
    ["ABS(1 + 2) * 3", "ABS(1 + 2) * 3"],
  ])("%s parses as %s", (expression, expected) => {
    expect(canonical(expression)).toBe(expected);
  });

  it("evaluates mixed AND/OR right to left-nested, unlike SQL", () => {
    expect(evaluated("FALSE AND FALSE OR TRUE").value).toBe(false);
    expect(evaluated("(FALSE AND FALSE) OR TRUE").value).toBe(true);
    expect(evaluated("TRUE OR FALSE AND FALSE").value).toBe(true);
  });

  it("evaluates subtraction chains left to right", () => {
    expect(evaluated("10 - 4 - 3").value).toBe(3);
    expect(evaluated("100 / 10 / 5").value).toBe(2);
  });
});

describe("lexing", () => {
  it("makes a sign written before a digit part of the integer literal, as INTEGER_LITERAL does", () => {
    expect(evaluated("4 - 1").value).toBe(3);
    expect(evaluated("4- 1").value).toBe(3);
    expect(evaluated("+5").value).toBe(5);
    expect(evaluated("4 + -1").value).toBe(3);
    const error = parseError("4-1");
    expect(error.position).toBe(1);
    expect(error.reason).toContain("put a space after '-' to subtract");
    expect(parseError("4 +1").reason).toContain("put a space after '+' to add");
  });

  it("keeps integer literals inside the signed 32-bit range", () => {
    expect(evaluated("-2147483648").value).toBe(-2147483648);
    expect(evaluated("2147483647").value).toBe(2147483647);
    expect(evaluated("+0007").value).toBe(7);
    expect(Object.is(evaluated("-0").value, 0)).toBe(true);
    expect(parseError("2147483648").reason).toContain("outside the signed 32-bit range");
    expect(parseError("-2147483649").reason).toContain("outside the signed 32-bit range");
    // Without the sign attached the literal itself is out of range.
    expect(parseError("- 2147483648").position).toBe(2);
    expect(parseError("99999999999999999999999").kind).toBe("parse");
  });

  it("resolves words like ANTLR: longest match, then the rule defined first", () => {
    const event = { trueish: "t", true1: "t1", abc1: "a", "1abc": "b", ext: "e" };
    expect(evaluated("trueish", event).value).toBe("t");
    expect(evaluated("TRUE1", event).value).toBe("t1");
    expect(evaluated("abc1", event).value).toBe("a");
    expect(evaluated("1abc", event).value).toBe("b");
    expect(evaluated("EXISTS 1abc", event).value).toBe(true);
    expect(evaluated("123").value).toBe(123);
    expect(parseError("-1abc").position).toBe(2);
    expect(parseError("abc_1").position).toBe(0);
  });

  it("lower-cases attribute names and upper-cases function names", () => {
    const ast = parseCesql("SubJect = Concat_Ws('-', ID)") as Extract<CesqlNode, { kind: "binary" }>;
    expect(ast.left).toMatchObject({ kind: "identifier", name: "subject" });
    expect(ast.right).toMatchObject({ kind: "call", name: "CONCAT_WS" });
    expect(evaluated("SubJect = Concat_Ws('-', ID)", { subject: "x", id: "x" }).value).toBe(true);
  });

  it("converts string literals the way sdk-go does: only the escaped quote is unescaped", () => {
    expect(evaluated("'it\\'s'").value).toBe("it's");
    expect(evaluated('"say \\"hi\\""').value).toBe('say "hi"');
    expect(evaluated('"it\\\'s"').value).toBe("it\\'s");
    expect(evaluated("'back\\\\slash'").value).toBe("back\\\\slash");
    expect(evaluated("'tab\\t'").value).toBe("tab\\t");
    // A doubled quote is accepted by the lexer and kept as two quotes in the value.
    expect(evaluated("'it''s'").value).toBe("it''s");
    expect(evaluated('"a""b"').value).toBe('a""b');
    expect(evaluated("''").value).toBe("");
    expect(evaluated("'line\nbreak'").value).toBe("line\nbreak");
  });

  it("skips only space, tab, carriage return and line feed", () => {
    expect(evaluated(" \t\r\n1\n+\t2 ").value).toBe(3);
    expect(parseError("1 +\f2").position).toBe(3);
    expect(parseError("1\u00a0+ 2").reason).toContain("U+00A0");
    expect(parseError("1 + 2\u2028").reason).toContain("U+2028");
  });

  it("rejects characters outside the grammar with their code point", () => {
    expect(parseError("a.b").reason).toBe("unexpected character '.' (U+002E)");
    expect(parseError("ä = 1").reason).toBe("unexpected character U+00E4");
    expect(parseError("😀").reason).toBe("unexpected character U+1F600");
    expect(parseError("a = 1 !").reason).toContain("'!'");
  });
});

describe("parse errors", () => {
  it("carry the offset, line and column of the offending token", () => {
    const error = parseError("TRUE AND");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("CesqlParseError");
    expect(error.kind).toBe("parse");
    expect(error.position).toBe(8);
    expect([error.line, error.column]).toEqual([1, 9]);
    expect(error.reason).toBe("expected an expression but found the end of the expression");
    expect(error.message).toBe(
      "invalid CESQL expression at line 1, column 9: expected an expression but found the end of the expression",
    );
  });

  it("count lines and columns in multi-line expressions", () => {
    const error = parseError("type = 'x'\n  AND\n  )");
    expect([error.position, error.line, error.column]).toEqual([19, 3, 3]);
  });

  it.each([
    ["'abc", 0, "unterminated string literal"],
    ["a = 'abc", 4, "unterminated string literal"],
    ["(TRUE", 5, "expected ')' to close the '(' at column 1 but found the end of the expression"],
    ["ABS(1 2)", 6, "expected ',' or ')' in the arguments of ABS but found '2'"],
    ["x LIKE y", 7, "LIKE needs a string literal pattern but found 'y'"],
    ["x LIKE 123", 7, "LIKE needs a string literal pattern but found '123'"],
    ["x IN 1", 5, "IN needs a parenthesized list of expressions but found '1'"],
    ["x IN ()", 6, "IN needs at least one expression in its list"],
    ["x IN (1 2)", 8, "expected ',' or ')' in the list of IN but found '2'"],
    ["EXISTS 'id'", 7, "EXISTS needs an attribute name but found ''id''"],
    ["x NOT 1", 6, "expected LIKE or IN after NOT but found '1'"],
    [
      "my_attr = 1",
      0,
      "'my_attr' is not an attribute name (those are letters and digits only); a function call needs '('",
    ],
    ["f2(1)", 0, "'f2' is not a function name (those are letters and underscores only)"],
    ["TRUE FALSE", 5, "unexpected 'FALSE' after a complete expression"],
    ["", 0, "expected an expression but found the end of the expression"],
  ])("%j fails at %i: %s", (expression, position, reason) => {
    const error = parseError(expression);
    expect(error.position).toBe(position);
    expect(error.reason).toBe(reason);
  });

  it("shortens long tokens it quotes", () => {
    const error = parseError(`TRUE '${"x".repeat(10_000)}'`);
    expect(error.reason).toBe(`unexpected '${"'"}${"x".repeat(39)}…' after a complete expression`);
  });

  it("refuses anything but a string expression with a TypeError", () => {
    expect(() => compileCesql(42 as unknown as string)).toThrow(TypeError);
    expect(() => compileCesql(undefined as unknown as string)).toThrow(TypeError);
  });

  it("bounds nesting so that hostile expressions cannot exhaust the stack", () => {
    const deep = 20_000;
    for (const expression of [
      `${"(".repeat(deep)}1${")".repeat(deep)}`,
      `${"NOT ".repeat(deep)}TRUE`,
      `${"- ".repeat(deep)}1`,
      Array(deep).fill("TRUE").join(" AND "),
      Array(deep).fill("1").join(" + "),
      `${"ABS(".repeat(deep)}1${")".repeat(deep)}`,
    ]) {
      expect(parseError(expression).reason).toBe(`expression is nested more than ${CESQL_MAX_DEPTH} levels deep`);
    }
  });

  it("accepts realistic nesting well below the bound", () => {
    const conditions = Array.from({ length: 200 }, (_, i) => `knclawrun != 'run-${i}'`).join(" AND ");
    const compiled = compileCesql(conditions);
    expect(compiled.evaluate({ knclawrun: "run-x" })).toEqual({ value: true, errors: [] });
    expect(compiled.evaluate({ knclawrun: "run-199" })).toEqual({ value: false, errors: [] });
    expect(compileCesql(`${"(".repeat(200)}1${")".repeat(200)}`).evaluate({}).value).toBe(1);
  });
});

describe("printer", () => {
  it.each([
    "type LIKE 'dev.knclaw.%' AND knclawinstance = 'support'",
    "NOT (a = b) OR - c * 2 >= ABS(-3)",
    "x NOT IN ('a', \"b\", 1 + 2) XOR EXISTS subject",
    "'it\\'s' = \"say \\\"x\\\"\" AND 'a''b' LIKE 'a\\%%'",
    "- -5 = - (- 5)",
    "CONCAT() = CONCAT_WS(',')",
  ])("round-trips %s", (expression) => {
    const ast = parseCesql(expression);
    const printed = printCesql(ast);
    expect(withoutSpans(parseCesql(printed))).toEqual(withoutSpans(ast));
    expect(printCesql(parseCesql(printed))).toBe(printed);
  });

  it("keeps a negated literal distinct from a negative literal", () => {
    expect(printCesql(parseCesql("- 5"))).toBe("- 5");
    expect(printCesql(parseCesql("-5"))).toBe("-5");
    expect(parseCesql("- 5")).toMatchObject({ kind: "negate", operand: { kind: "literal", value: 5 } });
    expect(parseCesql("-5")).toMatchObject({ kind: "literal", value: -5 });
  });

  it("records source spans on nodes", () => {
    const ast = parseCesql("  abc = 'x'") as Extract<CesqlNode, { kind: "binary" }>;
    expect([ast.start, ast.end]).toEqual([2, 11]);
    expect([ast.right.start, ast.right.end]).toEqual([8, 11]);
  });
});
