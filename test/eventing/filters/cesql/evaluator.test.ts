import { describe, expect, it } from "vitest";
import {
  type CesqlFunction,
  CesqlFunctionError,
  type CesqlResult,
  compileCesql,
  matchesCesql,
} from "../../../../eventing/filters/cesql/index.ts";

const run = (expression: string, event: Record<string, unknown> = {}): CesqlResult =>
  compileCesql(expression).evaluate(event);
const kinds = (result: CesqlResult) => result.errors.map((e) => e.kind);

describe("32-bit integer arithmetic", () => {
  it.each([
    ["2147483647 + 1", -2147483648],
    ["-2147483648 - 1", 2147483647],
    ["65536 * 65536", 0],
    ["46341 * 46341", -2147479015],
    ["-2147483648 / -1", -2147483648],
    ["- -2147483648", -2147483648],
    ["-7 / 2", -3],
    ["7 / -2", -3],
    ["-7 % 2", -1],
    ["7 % -2", 1],
    ["2147483647 * 2147483647", 1],
  ])("%s wraps or truncates like int32: %i", (expression, expected) => {
    expect(run(expression)).toEqual({ value: expected, errors: [] });
  });

  it("never produces -0", () => {
    expect(Object.is(run("-2147483648 % -1").value, 0)).toBe(true);
    expect(Object.is(run("-4 % 2").value, 0)).toBe(true);
    expect(Object.is(run("0 * -1").value, 0)).toBe(true);
    expect(Object.is(run("- 0").value, 0)).toBe(true);
  });

  it("fails division and modulo by zero with 0 and a math error, whatever the dividend", () => {
    for (const expression of ["0 / 0", "-5 / 0", "5 % 0", "1 / '0'", "1 / FALSE"]) {
      const result = run(expression);
      expect(result.value).toBe(0);
      expect(kinds(result)).toEqual(["math"]);
    }
  });
});

describe("implicit casts", () => {
  it("parses base-10 32-bit integer strings and nothing else", () => {
    expect(run("'+5' + 0").value).toBe(5);
    expect(run("'-2147483648' + 0").value).toBe(-2147483648);
    expect(run("'007' + 0").value).toBe(7);
    for (const text of [" 5", "5 ", "5.0", "0x10", "1e3", "1_000", "", "+", "2147483648", "-2147483649", "٣"]) {
      const result = run(`s + 0`, { s: text });
      expect(result.value, text).toBe(0);
      expect(kinds(result), text).toEqual(["cast"]);
    }
  });

  it("casts Strings to Boolean case-insensitively and fails on anything else", () => {
    expect(run("'TrUe' AND 'FALSE' = FALSE").value).toBe(true);
    const result = run("'yes' AND TRUE");
    expect(result).toEqual({ value: false, errors: [expect.objectContaining({ kind: "cast" })] });
    expect(result.errors[0]?.message).not.toContain("yes");
  });

  it("casts Integers to Boolean (0 is false) and Booleans to Integer", () => {
    expect(run("1 AND 2").value).toBe(true);
    expect(run("0 OR 0").value).toBe(false);
    expect(run("TRUE + TRUE").value).toBe(2);
    expect(run("-FALSE").value).toBe(0);
  });

  it("compares with <, <=, >, >= as Integers, never lexicographically", () => {
    expect(run("'10' > '9'").value).toBe(true);
    expect(run("hop < ttl", { hop: "9", ttl: "10" }).value).toBe(true);
    expect(run("TRUE > FALSE").value).toBe(true);
    const result = run("'a' < 1");
    expect(result.value).toBe(false);
    expect(kinds(result)).toEqual(["cast"]);
  });

  it("casts the left operand of = to the type of the right one (spec §3.7)", () => {
    expect(run("'01' = 1").value).toBe(true);
    expect(run("1 = '01'").value).toBe(false);
    expect(run("1 = '1'").value).toBe(true);
    expect(run("sequence = 10", { sequence: "10" }).value).toBe(true);
    expect(run("sequence = '10'", { sequence: 10 }).value).toBe(true);
    const failed = run("'abc' = 1");
    expect(failed.value).toBe(false);
    expect(kinds(failed)).toEqual(["cast"]);
    expect(run("'abc' != 1").value).toBe(false);
  });
});

describe("errors and short-circuits", () => {
  it("does not evaluate the right operand of a decided AND or OR", () => {
    expect(run("FALSE AND missing")).toEqual({ value: false, errors: [] });
    expect(run("TRUE OR missing")).toEqual({ value: true, errors: [] });
    expect(run("EXISTS myext AND myext = 'x'")).toEqual({ value: false, errors: [] });
    expect(kinds(run("TRUE AND missing"))).toEqual(["missingAttribute"]);
    expect(kinds(run("FALSE OR missing"))).toEqual(["missingAttribute"]);
  });

  it("evaluates both operands of XOR", () => {
    expect(run("TRUE XOR missing")).toEqual({
      value: false,
      errors: [expect.objectContaining({ kind: "missingAttribute" })],
    });
  });

  it("reports only the first error, evaluating operands before casting them", () => {
    expect(kinds(run("missing + 'abc'"))).toEqual(["missingAttribute"]);
    // sdk-go order: left, right, then the casts; the missing right operand is found before 'abc' is cast.
    expect(kinds(run("'abc' + missing"))).toEqual(["missingAttribute"]);
    expect(kinds(run("'abc' + 1 / 0"))).toEqual(["math"]);
    expect(kinds(run("(1 / 0) + missing"))).toEqual(["math"]);
  });

  it("returns the zero value of the enclosing operator once an operand failed", () => {
    expect(run("LEFT('abc', -2)").value).toBe("abc");
    expect(run("LEFT('abc', -2) = 'abc'").value).toBe(false);
    expect(run("LENGTH(LEFT('abc', -2))").value).toBe(0);
    expect(run("CONCAT('x', LEFT('abc', -2))").value).toBe("");
    expect(run("-(1 / 0)").value).toBe(0);
    expect(run("NOT (1 / 0 = 0)").value).toBe(false);
    expect(run("missing").value).toBe(false);
  });

  it("stops IN at the first matching element, as sdk-go does", () => {
    expect(run("1 IN (1, missing)")).toEqual({ value: true, errors: [] });
    expect(kinds(run("1 IN (missing, 1)"))).toEqual(["missingAttribute"]);
    expect(run("1 NOT IN (1, missing)")).toEqual({ value: false, errors: [] });
    expect(kinds(run("1 IN (2, 'x', 1)"))).toEqual(["cast"]);
  });

  it("does not evaluate the arguments of a call that cannot be dispatched", () => {
    const result = run("FOO(1 / 0, missing)");
    expect(result.value).toBe(false);
    expect(result.errors).toEqual([{ kind: "missingFunction", message: "no function FOO accepts 2 arguments" }]);
  });

  it("lists calls that will never dispatch at compile time", () => {
    expect(compileCesql("FOO(1) OR bar() OR LENGTH('a', 'b') OR LENGTH('a') = 1").unknownFunctions).toEqual([
      "FOO/1",
      "BAR/0",
      "LENGTH/2",
    ]);
    expect(compileCesql("SUBSTRING('abc', 1, 2) = 'ab'").unknownFunctions).toEqual([]);
  });

  it("fails a function whose argument cannot be cast with the function's zero value", () => {
    expect(run("ABS('x')")).toEqual({ value: 0, errors: [expect.objectContaining({ kind: "cast" })] });
    expect(run("LENGTH(missing)")).toEqual({
      value: 0,
      errors: [expect.objectContaining({ kind: "missingAttribute" })],
    });
    expect(run("SUBSTRING('abc', 'x')")).toEqual({ value: "", errors: [expect.objectContaining({ kind: "cast" })] });
  });

  it("returns a shared frozen empty error list and fresh results per evaluation", () => {
    const compiled = compileCesql("a = 'x'");
    const first = compiled.evaluate({ a: "x" });
    const second = compiled.evaluate({});
    expect(Object.isFrozen(first.errors)).toBe(true);
    expect(first).toEqual({ value: true, errors: [] });
    expect(kinds(second)).toEqual(["missingAttribute"]);
    expect(compiled.evaluate({ a: "x" })).toEqual({ value: true, errors: [] });
  });
});

describe("reading the event", () => {
  it("never resolves Object.prototype members as attributes", () => {
    for (const name of ["constructor", "tostring", "valueof", "hasownproperty", "isprototypeof"]) {
      expect(kinds(run(name)), name).toEqual(["missingAttribute"]);
      expect(run(`EXISTS ${name}`).value, name).toBe(false);
    }
    expect(run("constructor = 'x'", { constructor: "x" }).value).toBe(true);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { id: "1", ext: "v" });
    expect(run("ext = 'v' AND EXISTS ext", bare).value).toBe(true);
  });

  it("treats null and undefined values as absent", () => {
    expect(kinds(run("a", { a: null }))).toEqual(["missingAttribute"]);
    expect(kinds(run("a", { a: undefined }))).toEqual(["missingAttribute"]);
    expect(run("EXISTS a", { a: null }).value).toBe(false);
  });

  it("represents values outside the CESQL types as Strings (spec §3.2)", () => {
    expect(run("a", { a: 3.5 }).value).toBe("3.5");
    expect(run("a", { a: 2 ** 40 }).value).toBe("1099511627776");
    expect(run("a", { a: -(2 ** 31) }).value).toBe(-2147483648);
    expect(Object.is(run("a", { a: -0 }).value, 0)).toBe(true);
    expect(run("a", { a: 7n }).value).toBe(7);
    expect(run("a", { a: 2n ** 40n }).value).toBe("1099511627776");
    expect(run("a", { a: new Date("2018-04-26T12:48:09.000Z") }).value).toBe("2018-04-26T12:48:09.000Z");
    expect(run("a", { a: new Uint8Array([0, 1, 2, 255]) }).value).toBe("AAEC/w==");
    expect(run("a", { a: new URL("https://example.com/x") }).value).toBe("https://example.com/x");
    expect(run("a + 1", { a: 3.5 }).errors.map((e) => e.kind)).toEqual(["cast"]);
  });

  it("assumes the REQUIRED attributes exist, even when the map lacks them", () => {
    expect(run("EXISTS id AND EXISTS source AND EXISTS type AND EXISTS specversion", {}).value).toBe(true);
    expect(kinds(run("id = 'x'", {}))).toEqual(["missingAttribute"]);
  });
});

describe("string functions work on characters, not UTF-16 units", () => {
  it.each([
    ["LENGTH('😀')", 1],
    ["LENGTH('a😀b')", 3],
    ["LEFT('😀a', 1)", "😀"],
    ["RIGHT('a😀', 1)", "😀"],
    ["SUBSTRING('a😀b', 2, 1)", "😀"],
    ["SUBSTRING('a😀b', -1)", "b"],
    ["SUBSTRING('a😀b', -2)", "😀b"],
    ["'😀' LIKE '_'", true],
    ["'a😀b' LIKE 'a_b'", true],
    ["'😀' LIKE '__'", false],
    ["'a😀b' LIKE 'a%'", true],
    ["UPPER('ärger')", "ÄRGER"],
    ["LOWER('ÄRGER')", "ärger"],
  ])("%s = %j", (expression, expected) => {
    expect(run(expression)).toEqual({ value: expected, errors: [] });
  });

  it("trims Unicode White_Space and nothing else", () => {
    expect(run("TRIM(s)", { s: "\u00a0\u0085\u2003 a b\t\n\u3000" }).value).toBe("a b");
    expect(run("TRIM(s)", { s: "\ufeffa\ufeff" }).value).toBe("\ufeffa\ufeff");
    expect(run("TRIM(s)", { s: "\u0000a\u0000" }).value).toBe("\u0000a\u0000");
  });

  it("fails SUBSTRING on negative lengths even at position 0", () => {
    expect(run("SUBSTRING('abc', 1, -1)")).toEqual({
      value: "",
      errors: [expect.objectContaining({ kind: "functionEvaluation" })],
    });
    expect(kinds(run("SUBSTRING('abc', 0, -1)"))).toEqual(["functionEvaluation"]);
    expect(run("SUBSTRING('abc', 0, 1)")).toEqual({ value: "", errors: [] });
    expect(run("SUBSTRING('', 0)")).toEqual({ value: "", errors: [] });
    expect(kinds(run("SUBSTRING('', 1)"))).toEqual(["functionEvaluation"]);
    expect(run("SUBSTRING('abc', 3)")).toEqual({ value: "c", errors: [] });
    expect(run("SUBSTRING('abc', -3)")).toEqual({ value: "abc", errors: [] });
    expect(run("SUBSTRING('abc', 2, 2147483647)")).toEqual({ value: "bc", errors: [] });
  });

  it("casts arguments to the parameter types", () => {
    expect(run("LENGTH(12345)").value).toBe(5);
    expect(run("CONCAT(1, TRUE, 'x')").value).toBe("1truex");
    expect(run("CONCAT_WS(0, 1, 2)").value).toBe("102");
    expect(run("LEFT(12345, '2')").value).toBe("12");
    expect(
      run("IS_INT('12') AND NOT IS_INT('1.5') AND IS_INT(TRUE) AND IS_BOOL('False') AND NOT IS_BOOL('no')").value,
    ).toBe(true);
    expect(run("INT('2147483648')")).toEqual({ value: 0, errors: [expect.objectContaining({ kind: "cast" })] });
  });
});

describe("LIKE", () => {
  it.each([
    ["'abc' LIKE 'abc'", true],
    ["'abcd' LIKE 'abc'", false],
    ["'abc' LIKE 'ab%'", true],
    ["'xabc' LIKE 'ab%'", false],
    ["'xabc' LIKE '%bc'", true],
    ["'xabcx' LIKE '%bc'", false],
    ["'xabcx' LIKE '%bc%'", true],
    ["'xacx' LIKE '%bc%'", false],
    ["'' LIKE '%'", true],
    ["'' LIKE ''", true],
    ["'' LIKE '_'", false],
    ["'abc' LIKE '%%%'", true],
    ["'abc' LIKE '%b%%c'", true],
    ["'aXbYc' LIKE 'a%b%c'", true],
    ["'mississippi' LIKE '%iss%ipp%'", true],
    ["'mississippi' LIKE '%iss%ipp%x'", false],
    ["'ab' LIKE 'a_%'", true],
    ["'a' LIKE 'a_%'", false],
    // A backslash escapes only % and _; before anything else it is a literal backslash.
    ["'a\\b' LIKE 'a\\b'", true],
    ["'a%' LIKE 'a\\%'", true],
    ["'ab' LIKE 'a\\%'", false],
    ["'a\\%' LIKE 'a\\\\%'", true],
    ["'a\\xyz' LIKE 'a\\\\%'", false],
    ["'100%' LIKE '%\\%'", true],
    ["'100' LIKE '%\\%'", false],
    ["'a_c' LIKE '%\\_%'", true],
    ["'abc' LIKE '%\\_%'", false],
    ["'ABC' LIKE 'abc'", false],
    ["'line\nbreak' LIKE 'line_break'", true],
    ["'line\nbreak' LIKE 'line%'", true],
  ])("%s is %s", (expression, expected) => {
    expect(run(expression)).toEqual({ value: expected, errors: [] });
  });

  it("stays linear on patterns that make backtracking regexes explode", () => {
    const text = `${"a".repeat(20_000)}b`;
    expect(run("s LIKE '%a%a%a%a%a%a%a%a%a%a%c'", { s: text }).value).toBe(false);
    expect(run("s LIKE '%a%a%a%a%a%a%a%a%a%a%b'", { s: text }).value).toBe(true);
    expect(run("s LIKE '_%_%_%_%_%_%_%_%c'", { s: text }).value).toBe(false);
  });
});

describe("matchesCesql (Knative: only true without errors passes)", () => {
  const failingTrue: CesqlFunction = {
    name: "TRUE_BUT_FAILS",
    parameters: [],
    returns: "Boolean",
    call: () => {
      throw new CesqlFunctionError("deliberate", true);
    },
  };

  it("passes true and nothing else", () => {
    const event = { type: "dev.knclaw.run.requested", knclawinstance: "support" };
    expect(matchesCesql(compileCesql("type LIKE 'dev.knclaw.%' AND knclawinstance = 'support'"), event)).toBe(true);
    expect(matchesCesql(compileCesql("knclawinstance = 'sales'"), event)).toBe(false);
    expect(matchesCesql(compileCesql("'true'"), event)).toBe(false);
    expect(matchesCesql(compileCesql("1"), event)).toBe(false);
    expect(matchesCesql(compileCesql("type"), event)).toBe(false);
    expect(matchesCesql(compileCesql("knclawchannel = 'slack'"), event)).toBe(false);
    expect(matchesCesql(compileCesql("NOT (knclawchannel = 'slack')"), event)).toBe(false);
  });

  it("does not pass a true value that comes with an error", () => {
    const compiled = compileCesql("TRUE_BUT_FAILS()", { functions: [failingTrue] });
    expect(compiled.evaluate({})).toEqual({
      value: true,
      errors: [expect.objectContaining({ kind: "functionEvaluation" })],
    });
    expect(matchesCesql(compiled, {})).toBe(false);
    expect(compiled.matches({})).toBe(false);
  });
});

describe("user-defined functions", () => {
  const hasPrefix: CesqlFunction = {
    name: "has_prefix",
    parameters: ["String", "String"],
    returns: "Boolean",
    call: ([text, prefix]) => String(text).startsWith(String(prefix)),
  };

  it("are called case-insensitively with arguments cast to their declared types", () => {
    const compiled = compileCesql("HAS_PREFIX(12345, 12) AND Has_Prefix(source, 'https://')", {
      functions: [hasPrefix],
    });
    expect(compiled.evaluate({ source: "https://x" })).toEqual({ value: true, errors: [] });
  });

  it("receive the event", () => {
    const attribute: CesqlFunction = {
      name: "ATTRIBUTE_COUNT",
      parameters: [],
      returns: "Integer",
      call: (_args, event) => Object.keys(event).length,
    };
    expect(compileCesql("ATTRIBUTE_COUNT()", { functions: [attribute] }).evaluate({ a: 1, b: 2 }).value).toBe(2);
  });

  it("fail with their zero value when they throw or return the wrong type", () => {
    const throwing: CesqlFunction = {
      name: "BOOM",
      parameters: ["Integer"],
      returns: "Integer",
      call: () => {
        throw new Error("kaput");
      },
    };
    const lying: CesqlFunction = { name: "LIAR", parameters: [], returns: "Integer", call: () => "nope" };
    const fractional: CesqlFunction = { name: "HALF", parameters: [], returns: "Integer", call: () => 0.5 };
    const functions = [throwing, lying, fractional];
    expect(compileCesql("BOOM(1)", { functions }).evaluate({})).toEqual({
      value: 0,
      errors: [{ kind: "functionEvaluation", message: "function BOOM failed: kaput" }],
    });
    expect(compileCesql("LIAR()", { functions }).evaluate({})).toEqual({
      value: 0,
      errors: [{ kind: "functionEvaluation", message: "function LIAR returned a value that is not Integer" }],
    });
    expect(kinds(compileCesql("HALF()", { functions }).evaluate({}))).toEqual(["functionEvaluation"]);
    expect(kinds(compileCesql("BOOM('x')", { functions }).evaluate({}))).toEqual(["cast"]);
  });

  it("follow the overloading rules of spec §3.5", () => {
    const define = (name: string, parameters: number, variadic = false): CesqlFunction => ({
      name,
      parameters: Array(parameters).fill("String"),
      ...(variadic ? { variadic: "String" as const } : {}),
      returns: "String",
      call: (args) => args.join("+"),
    });
    expect(() => compileCesql("1", { functions: [define("LENGTH", 1)] })).toThrow(/already has a definition/);
    expect(() => compileCesql("1", { functions: [define("F", 1), define("F", 1)] })).toThrow(
      /already has a definition/,
    );
    expect(() => compileCesql("1", { functions: [define("F", 2), define("F", 2, true)] })).toThrow(
      /more fixed parameters/,
    );
    expect(() => compileCesql("1", { functions: [define("F", 1, true), define("F", 3)] })).toThrow(/ambiguous/);
    expect(() => compileCesql("1", { functions: [define("CONCAT", 3)] })).toThrow(/ambiguous/);
    expect(() => compileCesql("1", { functions: [define("F", 1, true), define("F", 2, true)] })).toThrow(/variadic/);
    expect(() => compileCesql("1", { functions: [define("F1", 1)] })).toThrow(/invalid CESQL function name/);

    const overloads = [define("F", 0), define("F", 1), define("F", 3, true)];
    const compiled = compileCesql("CONCAT_WS('|', F(), F('a'), F('a', 'b'), F('a', 'b', 'c'), F('a', 'b', 'c', 'd'))", {
      functions: overloads,
    });
    expect(compiled.unknownFunctions).toEqual(["F/2"]);
    expect(compileCesql("F('a', 'b', 'c', 'd')", { functions: overloads }).evaluate({}).value).toBe("a+b+c+d");
    expect(
      compileCesql("SUBSTRING('abc', 2) = F('bc')", { functions: [define("SUBSTRING", 4)] }).unknownFunctions,
    ).toEqual(["F/1"]);
  });

  it("do not leak into expressions compiled without them", () => {
    compileCesql("HAS_PREFIX('a', 'a')", { functions: [hasPrefix] });
    expect(kinds(run("HAS_PREFIX('a', 'a')"))).toEqual(["missingFunction"]);
  });
});
