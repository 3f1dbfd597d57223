import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CesqlParseError,
  type CesqlResult,
  compileCesql,
  matchesCesql,
  parseCesql,
  printCesql,
} from "../../../../eventing/filters/cesql/index.ts";
import { withoutSpans } from "./support/tree.ts";

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const int32 = fc.integer({ min: INT32_MIN, max: INT32_MAX });

// ---- generators -------------------------------------------------------------------------------------------------

const ATTRIBUTES = ["id", "source", "type", "subject", "myext", "myint", "mybool", "missing", "hop", "a1", "1a"];
const FUNCTIONS = [
  "ABS",
  "LENGTH",
  "CONCAT",
  "CONCAT_WS",
  "LOWER",
  "upper",
  "TRIM",
  "LEFT",
  "RIGHT",
  "SUBSTRING",
  "INT",
  "bool",
  "STRING",
  "IS_INT",
  "IS_BOOL",
  "FOO",
];

/** A keyword in random letter case: keywords are case-insensitive. */
const keyword = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

const blank = fc.constantFrom(" ", " ", "  ", "\n", "\t", "\r\n ");

/** String literals built from lexically self-contained pieces, so the literal always lexes. */
const stringLiteral = fc.constantFrom("'", '"').chain((quote) =>
  fc
    .array(
      fc.constantFrom(
        "a",
        "b",
        "%",
        "_",
        " ",
        "😀",
        "\\\\",
        `\\${quote}`,
        quote + quote,
        "\\%",
        "\\_",
        "\\x",
        quote === "'" ? '"' : "'",
      ),
      {
        maxLength: 6,
      },
    )
    .map((pieces) => `${quote}${pieces.join("")}${quote}`),
);

const literal = fc.oneof(
  int32.map(String),
  fc.integer({ min: 0, max: 99 }).map((n) => `+${n}`),
  keyword("true"),
  keyword("false"),
  stringLiteral,
);

const identifier = fc.constantFrom(...ATTRIBUTES).chain((name) => fc.constantFrom(name, name.toUpperCase()));

const binaryOperator = fc.oneof(
  fc.constantFrom("*", "/", "%", "+", "-", "=", "!=", "<>", "<", "<=", ">", ">="),
  keyword("and"),
  keyword("or"),
  keyword("xor"),
);

const { expression } = fc.letrec<{ expression: string; primary: string }>((tie) => ({
  expression: fc.oneof(
    { depthIdentifier: "cesql", depthSize: "small", maxDepth: 5 },
    tie("primary"),
    fc.tuple(tie("expression"), blank, binaryOperator, blank, tie("expression")).map((parts) => parts.join("")),
    fc
      .tuple(tie("expression"), fc.option(keyword("not")), keyword("like"), stringLiteral)
      .map(([operand, not, like, pattern]) => `${operand} ${not ? `${not} ` : ""}${like} ${pattern}`),
    fc
      .tuple(
        tie("expression"),
        fc.option(keyword("not")),
        keyword("in"),
        fc.array(tie("expression"), { minLength: 1, maxLength: 3 }),
      )
      .map(([operand, not, inKeyword, set]) => `${operand} ${not ? `${not} ` : ""}${inKeyword} (${set.join(", ")})`),
  ),
  primary: fc.oneof(
    { depthIdentifier: "cesql", depthSize: "small", maxDepth: 5 },
    literal,
    identifier,
    fc.tuple(keyword("exists"), identifier).map(([exists, name]) => `${exists} ${name}`),
    fc.tuple(keyword("not"), tie("primary")).map(([not, operand]) => `${not} ${operand}`),
    tie("primary").map((operand) => `- ${operand}`),
    tie("expression").map((inner) => `(${inner})`),
    fc
      .tuple(fc.constantFrom(...FUNCTIONS), fc.array(tie("expression"), { maxLength: 3 }))
      .map(([name, args]) => `${name}(${args.join(", ")})`),
  ),
}));

const eventValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  int32,
  fc.boolean(),
  fc.constantFrom("5", "-3", "10", "true", "FALSE", "abc", ""),
);
const event = fc.dictionary(fc.constantFrom(...ATTRIBUTES.map((a) => a.toLowerCase())), eventValue, { maxKeys: 8 });

// ---- helpers ----------------------------------------------------------------------------------------------------

function expectWellFormed(result: CesqlResult): void {
  const { value, errors } = result;
  if (typeof value === "number") {
    expect(Number.isInteger(value)).toBe(true);
    expect(value >= INT32_MIN && value <= INT32_MAX).toBe(true);
    expect(Object.is(value, -0)).toBe(false);
  } else {
    expect(["boolean", "string"]).toContain(typeof value);
  }
  expect(errors.length).toBeLessThanOrEqual(1);
  for (const error of errors) {
    expect(["math", "cast", "missingAttribute", "missingFunction", "functionEvaluation"]).toContain(error.kind);
    expect(typeof error.message).toBe("string");
  }
}

function compileOrParseError(source: string) {
  try {
    return compileCesql(source);
  } catch (error) {
    expect(error).toBeInstanceOf(CesqlParseError);
    const { position } = error as CesqlParseError;
    expect(position >= 0 && position <= source.length).toBe(true);
    return undefined;
  }
}

// ---- properties -------------------------------------------------------------------------------------------------

describe("parser robustness", () => {
  it("answers any text with a compiled expression or a CesqlParseError, never another exception", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), event, (source, input) => {
        const compiled = compileOrParseError(source);
        if (compiled) expectWellFormed(compiled.evaluate(input));
      }),
      { numRuns: 1500 },
    );
  });

  it("does the same for token soup, which reaches much deeper into the grammar", () => {
    const token = fc.constantFrom(
      "(",
      ")",
      ",",
      "'",
      '"',
      "\\",
      "NOT",
      "not",
      "LIKE",
      "IN",
      "EXISTS",
      "AND",
      "or",
      "XOR",
      "TRUE",
      "false",
      "1",
      "-1",
      "+",
      "-",
      "*",
      "/",
      "%",
      "=",
      "!=",
      "<>",
      "<",
      ">=",
      "id",
      "myext",
      "_",
      "ABS",
      "CONCAT_WS",
      "'a%'",
      "2147483648",
      "!",
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(token, fc.constantFrom("", " ")), { maxLength: 25 }), event, (parts, input) => {
        const compiled = compileOrParseError(parts.map(([t, s]) => t + s).join(""));
        if (compiled) expectWellFormed(compiled.evaluate(input));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("generated valid expressions", () => {
  it("always compile, evaluate without throwing, and give well-formed, deterministic results", () => {
    fc.assert(
      fc.property(expression, event, (source, input) => {
        const compiled = compileCesql(source);
        const result = compiled.evaluate(input);
        expectWellFormed(result);
        expect(compiled.evaluate(input)).toEqual(result);
        expect(matchesCesql(compiled, input)).toBe(result.value === true && result.errors.length === 0);
      }),
      { numRuns: 1000 },
    );
  });

  it("round-trip through the printer to the same tree, and printing is idempotent", () => {
    fc.assert(
      fc.property(expression, event, (source, input) => {
        const tree = parseCesql(source);
        const printed = printCesql(tree);
        const reparsed = parseCesql(printed);
        expect(withoutSpans(reparsed)).toEqual(withoutSpans(tree));
        expect(printCesql(reparsed)).toBe(printed);
        expect(compileCesql(printed).evaluate(input)).toEqual(compileCesql(source).evaluate(input));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("arithmetic agrees with a 32-bit two's complement reference", () => {
  const wrap = (n: bigint) => Number(BigInt.asIntN(32, n));
  const reference: Record<string, (a: bigint, b: bigint) => number> = {
    "+": (a, b) => wrap(a + b),
    "-": (a, b) => wrap(a - b),
    "*": (a, b) => wrap(a * b),
    "/": (a, b) => wrap(a / b), // BigInt division truncates toward zero
    "%": (a, b) => wrap(a % b), // and its remainder takes the dividend's sign
  };

  it("for every operator on any pair of int32 values", () => {
    fc.assert(
      fc.property(int32, fc.constantFrom("+", "-", "*", "/", "%"), int32, (a, op, b) => {
        const result = compileCesql(`a ${op} b`).evaluate({ a, b });
        if ((op === "/" || op === "%") && b === 0) {
          expect(result).toEqual({ value: 0, errors: [expect.objectContaining({ kind: "math" })] });
          return;
        }
        const expected = (reference[op] as (a: bigint, b: bigint) => number)(BigInt(a), BigInt(b));
        expect(result).toEqual({ value: expected === 0 ? 0 : expected, errors: [] });
      }),
      { numRuns: 3000 },
    );
  });

  it("for comparisons and negation", () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        const result = compileCesql("CONCAT(STRING(a < b), STRING(a <= b), STRING(a = b), STRING(-a))").evaluate({
          a,
          b,
        });
        const negated = wrap(-BigInt(a));
        expect(result.value).toBe(`${a < b}${a <= b}${a === b}${negated === 0 ? 0 : negated}`);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("String to Integer casting agrees with a reference parser", () => {
  it("accepts exactly the base-10 32-bit integers", () => {
    const text = fc.oneof(
      int32.map(String),
      fc.string({ unit: fc.constantFrom("0", "1", "9", "-", "+", " ", "x", "."), maxLength: 12 }),
      fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }).map(String),
    );
    fc.assert(
      fc.property(text, (s) => {
        const result = compileCesql("INT(s)").evaluate({ s });
        const valid = /^[+-]?[0-9]+$/.test(s) && BigInt(s) >= BigInt(INT32_MIN) && BigInt(s) <= BigInt(INT32_MAX);
        if (valid) expect(result).toEqual({ value: Number(BigInt(s)), errors: [] });
        else expect(result).toEqual({ value: 0, errors: [expect.objectContaining({ kind: "cast" })] });
      }),
      { numRuns: 2000 },
    );
  });
});

describe("LIKE agrees with a regular-expression reference", () => {
  /** Independent reading of spec §3.4.3 (sdk-go escapes): `\%` and `\_` literal, other backslashes literal. */
  function referenceLike(text: string, pattern: string): boolean {
    let source = "";
    const chars = Array.from(pattern);
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      const next = chars[i + 1];
      if (c === "\\" && (next === "%" || next === "_")) {
        source += next;
        i++;
      } else if (c === "%") source += "[\\s\\S]*";
      else if (c === "_") source += "[\\s\\S]";
      else source += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    }
    return new RegExp(`^${source}$`, "u").test(text);
  }

  it("on random texts and patterns over a small alphabet", () => {
    const alphabet = fc.constantFrom("a", "b", "%", "_", "\\", "😀", "\n");
    fc.assert(
      fc.property(
        fc.string({ unit: alphabet, maxLength: 10 }),
        fc.string({ unit: alphabet, maxLength: 8 }),
        (text, pattern) => {
          // Escape only what the string literal needs: a trailing backslash or one before the quote would end it.
          fc.pre(!pattern.endsWith("\\") && !pattern.includes("'"));
          const result = compileCesql(`t LIKE '${pattern}'`).evaluate({ t: text });
          expect(result).toEqual({ value: referenceLike(text, pattern), errors: [] });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("every text matches itself once its wildcards are escaped", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (text) => {
        fc.pre(!text.includes("\\") && !text.includes("'"));
        const pattern = text.replace(/[%_]/g, "\\$&");
        expect(compileCesql(`t LIKE '${pattern}'`).evaluate({ t: text }).value).toBe(true);
        expect(compileCesql(`t LIKE '%'`).evaluate({ t: text }).value).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
