import { describe, expect, it } from "vitest";
import {
  type CesqlFunction,
  CesqlParseError,
  compileCesql,
  matchesCesql,
} from "../../../../eventing/filters/cesql/index.ts";
import { DEFAULT_EVENT, SPEC_DERIVED_FILES, TCK_FILES, type TckCase, type TckFile } from "./support/tck-cases.ts";

// The user-defined functions sdk-go's tck_test.go registers for user_defined_functions.yaml.
const TCK_FUNCTIONS: readonly CesqlFunction[] = [
  {
    name: "HASPREFIX",
    parameters: ["String", "String"],
    returns: "Boolean",
    call: ([text, prefix]) => String(text).startsWith(String(prefix)),
  },
  { name: "KONKAT", parameters: [], variadic: "String", returns: "String", call: (args) => args.join("") },
];

function inputEvent(test: TckCase): Record<string, unknown> {
  return { ...(test.event ?? DEFAULT_EVENT), ...test.eventOverrides };
}

function runSuite(file: TckFile) {
  describe(`${file.file}: ${file.name}`, () => {
    it.each(file.tests.map((test) => [test.name, test] as const))("%s", (_name, test) => {
      if (test.error === "parse") {
        expect(() => compileCesql(test.expression)).toThrow(CesqlParseError);
        return;
      }
      const compiled = compileCesql(test.expression, { functions: TCK_FUNCTIONS });
      const event = inputEvent(test);
      const { value, errors } = compiled.evaluate(event);
      if (test.error) {
        expect(errors.map((e) => e.kind)).toEqual([test.error]);
      } else {
        expect(errors).toEqual([]);
      }
      // Unlike sdk-go's runner, the value is checked even when an error is expected: CESQL v1 defines it.
      if (test.result !== undefined) expect(value).toStrictEqual(test.result);
      expect(matchesCesql(compiled, event)).toBe(value === true && errors.length === 0);
    });
  });
}

describe("CESQL TCK (transcribed)", () => {
  for (const file of TCK_FILES) runSuite(file);
});

describe("CESQL TCK-style suites derived from the spec (upstream YAML unavailable)", () => {
  for (const file of SPEC_DERIVED_FILES) runSuite(file);
});

describe("TCK transcription", () => {
  it("covers every suite sdk-go's runner lists, plus the user-defined functions suite", () => {
    const files = [...TCK_FILES, ...SPEC_DERIVED_FILES].map((f) => f.file).sort();
    expect(files).toEqual(
      [
        "binary_comparison_operators",
        "binary_logical_operators",
        "binary_math_operators",
        "case_sensitivity",
        "casting_functions",
        "context_attributes_access",
        "exists_expression",
        "in_expression",
        "integer_builtin_functions",
        "like_expression",
        "literals",
        "negate_operator",
        "not_operator",
        "parse_errors",
        "spec_examples",
        "string_builtin_functions",
        "sub_expression",
        "subscriptions_api_recreations",
        "user_defined_functions",
      ].sort(),
    );
  });

  it("states a value for every evaluated case and an error kind for every parse case", () => {
    for (const file of [...TCK_FILES, ...SPEC_DERIVED_FILES]) {
      for (const test of file.tests) {
        if (test.error === "parse") continue;
        expect(test.result, `${file.file}: ${test.name}`).not.toBeUndefined();
      }
    }
  });
});
