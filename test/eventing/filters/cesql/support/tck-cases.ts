/**
 * The official CESQL TCK, transcribed from the YAML files (cloudevents/spec `cesql/cesql_tck/*.yaml`, and sdk-go's
 * copies where those are the later revision), case for case, names and all. `source` names the exact file revision.
 *
 * Not every upstream file was available to transcribe: the stored copies of cloudevents/spec hold no
 * case_sensitivity, exists_expression, in_expression or parse_errors YAML. Those four suites are in
 * `SPEC_DERIVED_FILES` below, written from the v1 spec text and the ANTLR grammar and marked as such; they are not
 * the upstream cases.
 *
 * YAML notes: unquoted scalars like `TRUE`/`FALSE` are YAML booleans; the `time` timestamp scalar reaches sdk-go's
 * test as its RFC 3339 text, which is what is written here.
 */

type TckError = "parse" | "math" | "cast" | "missingAttribute" | "missingFunction" | "functionEvaluation";

export interface TckCase {
  readonly name: string;
  readonly expression: string;
  readonly result?: boolean | number | string;
  readonly error?: TckError;
  /** The whole input event; when absent, DEFAULT_EVENT with `eventOverrides` applied. */
  readonly event?: Readonly<Record<string, unknown>>;
  readonly eventOverrides?: Readonly<Record<string, unknown>>;
}

export interface TckFile {
  /** File name without `.yaml`. */
  readonly file: string;
  /** The file's `name:`. */
  readonly name: string;
  readonly source: string;
  readonly note?: string;
  readonly tests: readonly TckCase[];
}

/**
 * "Any valid event" for cases without `event` (the TCK README): a full v1.0 event like sdk-go's test.FullEvent(),
 * carrying none of the attributes the cases treat as missing (`missing`, `myext`, `x`, ...).
 */
export const DEFAULT_EVENT: Readonly<Record<string, unknown>> = {
  specversion: "1.0",
  id: "full-event",
  source: "http://example.com/source",
  type: "com.example.simple",
  subject: "topic",
  time: "2018-04-26T14:48:09+02:00",
  datacontenttype: "application/json",
  dataschema: "http://example.com/schema",
  exbool: true,
  exint: 42,
  exstring: "exstring",
};

const SPEC = "cloudevents/spec";
const SDK_GO = "cloudevents/sdk-go";

export const TCK_FILES: readonly TckFile[] = [
  {
    file: "binary_comparison_operators",
    name: "Binary comparison operations",
    source: `${SPEC}@c0927d1234a8fc8fce5554c86633a61a94eee0c6 cesql/cesql_tck/binary_comparison_operators.yaml`,
    tests: [
      { name: "True is equal to false", expression: "TRUE = FALSE", result: false },
      { name: "False is equal to false", expression: "FALSE = FALSE", result: true },
      { name: "1 is equal to 2", expression: "1 = 2", result: false },
      { name: "2 is equal to 2", expression: "2 = 2", result: true },
      { name: "abc is equal to 123", expression: "'abc' = '123'", result: false },
      { name: "abc is equal to abc", expression: "'abc' = 'abc'", result: true },
      {
        name: "Equals operator returns false when encountering a missing attribute",
        expression: "missing = 2",
        result: false,
        error: "missingAttribute",
      },

      { name: "True is not equal to false", expression: "TRUE != FALSE", result: true },
      { name: "False is not equal to false", expression: "FALSE != FALSE", result: false },
      { name: "1 is not equal to 2", expression: "1 != 2", result: true },
      { name: "2 is not equal to 2", expression: "2 != 2", result: false },
      { name: "abc is not equal to 123", expression: "'abc' != '123'", result: true },
      { name: "abc is not equal to abc", expression: "'abc' != 'abc'", result: false },
      {
        name: "Not equal operator returns false when encountering a missing attribute",
        expression: "missing != 2",
        result: false,
        error: "missingAttribute",
      },

      { name: "True is not equal to false (diamond operator)", expression: "TRUE <> FALSE", result: true },
      { name: "False is not equal to false (diamond operator)", expression: "FALSE <> FALSE", result: false },
      { name: "1 is not equal to 2 (diamond operator)", expression: "1 <> 2", result: true },
      { name: "2 is not equal to 2 (diamond operator)", expression: "2 <> 2", result: false },
      { name: "abc is not equal to 123 (diamond operator)", expression: "'abc' <> '123'", result: true },
      { name: "abc is not equal to abc (diamond operator)", expression: "'abc' <> 'abc'", result: false },
      {
        name: "Diamond operator returns false when encountering a missing attribute",
        expression: "missing <> 2",
        result: false,
        error: "missingAttribute",
      },

      { name: "1 is less or equal than 2", expression: "2 <= 2", result: true },
      { name: "3 is less or equal than 2", expression: "3 <= 2", result: false },
      { name: "1 is less than 2", expression: "1 < 2", result: true },
      { name: "2 is less than 2", expression: "2 < 2", result: false },
      { name: "2 is greater or equal than 2", expression: "2 >= 2", result: true },
      { name: "2 is greater or equal than 3", expression: "2 >= 3", result: false },
      { name: "2 is greater than 1", expression: "2 > 1", result: true },
      { name: "2 is greater than 2", expression: "2 > 2", result: false },
      {
        name: "Less than or equal operator returns false when encountering a missing attribute",
        expression: "missing <= 2",
        result: false,
        error: "missingAttribute",
      },

      { name: "implicit casting with string as right type", expression: "true = 'TRUE'", result: false },
      { name: "implicit casting with boolean as right type", expression: "'TRUE' = true", result: true },
    ],
  },
  {
    file: "binary_logical_operators",
    name: "Binary logical operations",
    source: `${SPEC}@796d1df4f72cfc4a34ecca81468d7580ebaa8d8e cesql/cesql_tck/binary_logical_operators.yaml`,
    tests: [
      { name: "False and false", expression: "FALSE AND FALSE", result: false },
      { name: "False and true", expression: "FALSE AND TRUE", result: false },
      { name: "True and false", expression: "TRUE AND FALSE", result: false },
      { name: "True and true", expression: "TRUE AND TRUE", result: true },
      { name: "AND operator is short circuit evaluated", expression: "false and (1 != 1 / 0)", result: false },
      {
        name: "AND operator is NOT short circuit evaluated when the first operand evaluates to true",
        expression: "true and (1 != 1 / 0)",
        error: "math",
        result: false,
      },

      { name: "False or false", expression: "FALSE OR FALSE", result: false },
      { name: "False or true", expression: "FALSE OR TRUE", result: true },
      { name: "True or false", expression: "TRUE OR FALSE", result: true },
      { name: "True or true", expression: "TRUE OR TRUE", result: true },
      { name: "OR operator is short circuit evaluated", expression: "true or (1 != 1 / 0)", result: true },
      {
        name: "OR operator is NOT short circuit evaluated when the first operand evaluates to false",
        expression: "false or (1 != 1 / 0)",
        error: "math",
        result: false,
      },

      { name: "False xor false", expression: "FALSE XOR FALSE", result: false },
      { name: "False xor true", expression: "FALSE XOR TRUE", result: true },
      { name: "True xor false", expression: "TRUE XOR FALSE", result: true },
      { name: "True xor true", expression: "TRUE XOR TRUE", result: false },
    ],
  },
  {
    file: "binary_math_operators",
    name: "Binary math operations",
    source: `${SPEC}@33836c17ff8384b43800c2be14469fd52dc17468 cesql/cesql_tck/binary_math_operators.yaml`,
    tests: [
      { name: "Operator precedence without parenthesis", expression: "4 * 2 + 4 / 2", result: 10 },
      { name: "Operator precedence with parenthesis", expression: "4 * (2 + 4) / 2", result: 12 },

      { name: "Truncated division", expression: "5 / 3", result: 1 },
      { name: "Division by zero returns 0 and fail", expression: "5 / 0", result: 0, error: "math" },
      { name: "Module", expression: "5 % 2", result: 1 },
      { name: "Module by zero returns 0 and fail", expression: "5 % 0", result: 0, error: "math" },
      {
        name: "Missing attribute in division results in missing attribute error, not divide by 0 error",
        expression: "missing / 0",
        result: 0,
        error: "missingAttribute",
      },
      {
        name: "Missing attribute in modulo results in missing attribute error, not divide by 0 error",
        expression: "missing % 0",
        result: 0,
        error: "missingAttribute",
      },

      { name: "Positive plus positive number", expression: "4 + 1", result: 5 },
      { name: "Negative plus positive number", expression: "-4 + 1", result: -3 },
      { name: "Negative plus Negative number", expression: "-4 + -1", result: -5 },
      { name: "Positive plus negative number", expression: "4 + -1", result: 3 },
      { name: "Positive minus positive number", expression: "4 - 1", result: 3 },
      { name: "Negative minus positive number", expression: "-4 - 1", result: -5 },

      { name: "Implicit casting, with left value string", expression: "'5' + 3", result: 8 },
      { name: "Implicit casting, with right value string", expression: "5 + '3'", result: 8 },
      { name: "Implicit casting, with both values string", expression: "'5' + '3'", result: 8 },
      { name: "Implicit casting, with boolean value", expression: "5 + TRUE", result: 6 },
    ],
  },
  {
    file: "casting_functions",
    name: "Casting functions",
    source: `${SPEC}@33836c17ff8384b43800c2be14469fd52dc17468 cesql/cesql_tck/casting_functions.yaml`,
    tests: [
      { name: "Cast '1' to integer", expression: "INT('1')", result: 1 },
      { name: "Cast '-1' to integer", expression: "INT('-1')", result: -1 },
      { name: "Cast identity 1", expression: "INT(1)", result: 1 },
      { name: "Cast identity -1", expression: "INT(-1)", result: -1 },
      { name: "Cast from TRUE to int", expression: "INT(TRUE)", result: 1 },
      { name: "Cast from FALSE to int", expression: "INT(FALSE)", result: 0 },
      { name: "Invalid cast from string to int", expression: "INT('ABC')", result: 0, error: "cast" },

      { name: "Cast 'TRUE' to boolean", expression: "BOOL('TRUE')", result: true },
      { name: 'Cast "false" to boolean', expression: 'BOOL("false")', result: false },
      { name: "Cast identity TRUE", expression: "BOOL(TRUE)", result: true },
      { name: "Cast identity FALSE", expression: "BOOL(FALSE)", result: false },
      { name: "Invalid cast from string to boolean", expression: "BOOL('ABC')", result: false, error: "cast" },
      { name: "Cast from 1 to boolean", expression: "BOOL(1)", result: true },
      { name: "Cast from 0 to boolean", expression: "BOOL(0)", result: false },
      { name: "Cast from 100 to boolean", expression: "BOOL(100)", result: true },
      { name: "Cast from -50 to boolean", expression: "BOOL(-50)", result: true },

      { name: "Cast TRUE to string", expression: "STRING(TRUE)", result: "true" },
      { name: "Cast FALSE to string", expression: "STRING(FALSE)", result: "false" },
      { name: "Cast 1 to string", expression: "STRING(1)", result: "1" },
      { name: "Cast -1 to string", expression: "STRING(-1)", result: "-1" },
      { name: 'Cast identity "abc"', expression: 'STRING("abc")', result: "abc" },
    ],
  },
  {
    file: "context_attributes_access",
    name: "Context attributest test",
    source: `${SPEC}@c0927d1234a8fc8fce5554c86633a61a94eee0c6 cesql/cesql_tck/context_attributes_access.yaml`,
    tests: [
      { name: "Access to required attribute", expression: "id", eventOverrides: { id: "myId" }, result: "myId" },
      {
        name: "Access to optional attribute",
        expression: "subject",
        eventOverrides: { subject: "mySubject" },
        result: "mySubject",
      },
      {
        name: "Absent optional attribute",
        expression: "subject",
        event: { specversion: "1.0", id: "myId", source: "localhost.localdomain", type: "myType" },
        result: false,
        error: "missingAttribute",
      },
      {
        name: "Access to optional boolean extension",
        expression: "mybool",
        eventOverrides: { mybool: true },
        result: true,
      },
      { name: "Access to optional integer extension", expression: "myint", eventOverrides: { myint: 10 }, result: 10 },
      {
        name: "Access to optional string extension",
        expression: "myext",
        eventOverrides: { myext: "my extension" },
        result: "my extension",
      },
      {
        name: "URL type cohercion to string",
        expression: "source",
        event: { specversion: "1.0", id: "myId", source: "http://localhost/source", type: "myType" },
        result: "http://localhost/source",
      },
      {
        name: "Timestamp type cohercion to string",
        expression: "time",
        event: {
          specversion: "1.0",
          id: "myId",
          source: "http://localhost/source",
          type: "myType",
          time: "2018-04-26T14:48:09+02:00",
        },
        result: "2018-04-26T14:48:09+02:00",
      },
    ],
  },
  {
    file: "integer_builtin_functions",
    name: "Integer builtin functions",
    source: `${SPEC}@c0927d1234a8fc8fce5554c86633a61a94eee0c6 cesql/cesql_tck/integer_builtin_functions.yaml`,
    tests: [
      { name: "ABS (1)", expression: "ABS(10)", result: 10 },
      { name: "ABS (2)", expression: "ABS(-10)", result: 10 },
      { name: "ABS (3)", expression: "ABS(0)", result: 0 },
      { name: "ABS overflow", expression: "ABS(-2147483648)", result: 2147483647, error: "math" },
    ],
  },
  {
    file: "like_expression",
    name: "Like expression",
    source: `${SPEC}@c0927d1234a8fc8fce5554c86633a61a94eee0c6 cesql/cesql_tck/like_expression.yaml`,
    tests: [
      { name: "Exact match (1)", expression: "'abc' LIKE 'abc'", result: true },
      { name: "Exact match (2)", expression: "'ab\\c' LIKE 'ab\\c'", result: true },
      { name: "Exact match (negate)", expression: "'abc' NOT LIKE 'abc'", result: false },

      { name: "Percentage operator (1)", expression: "'abc' LIKE 'a%b%c'", result: true },
      { name: "Percentage operator (2)", expression: "'azbc' LIKE 'a%b%c'", result: true },
      { name: "Percentage operator (3)", expression: "'azzzbzzzc' LIKE 'a%b%c'", result: true },
      { name: "Percentage operator (4)", expression: "'a%b%c' LIKE 'a%b%c'", result: true },
      { name: "Percentage operator (5)", expression: "'ac' LIKE 'abc'", result: false },
      { name: "Percentage operator (6)", expression: "'' LIKE 'abc'", result: false },
      { name: "Percentage operator (7)", expression: "'.ab.cde.' LIKE '.%.%.'", result: true },
      { name: "Percentage operator (8)", expression: "'ab.cde' LIKE '.%.%.'", result: false },

      { name: "Underscore operator (1)", expression: "'abc' LIKE 'a_b_c'", result: false },
      { name: "Underscore operator (2)", expression: "'a_b_c' LIKE 'a_b_c'", result: true },
      { name: "Underscore operator (3)", expression: "'abzc' LIKE 'a_b_c'", result: false },
      { name: "Underscore operator (4)", expression: "'azbc' LIKE 'a_b_c'", result: false },
      { name: "Underscore operator (5)", expression: "'azbzc' LIKE 'a_b_c'", result: true },
      { name: "Underscore operator (6)", expression: "'.a.b.' LIKE '._._.'", result: true },
      { name: "Underscore operator (7)", expression: "'abcd.' LIKE '._._.'", result: false },

      { name: "Escaped underscore wildcards (1)", expression: "'a_b_c' LIKE 'a\\_b\\_c'", result: true },
      { name: "Escaped underscore wildcards (2)", expression: "'a_b_c' NOT LIKE 'a\\_b\\_c'", result: false },
      { name: "Escaped underscore wildcards (3)", expression: "'azbzc' LIKE 'a\\_b\\_c'", result: false },
      { name: "Escaped underscore wildcards (4)", expression: "'abc' LIKE 'a\\_b\\_c'", result: false },

      { name: "Escaped percentage wildcards (1)", expression: "'abc' LIKE 'a\\%b\\%c'", result: false },
      { name: "Escaped percentage wildcards (2)", expression: "'a%b%c' LIKE 'a\\%b\\%c'", result: true },
      { name: "Escaped percentage wildcards (3)", expression: "'azbzc' LIKE 'a\\%b\\%c'", result: false },
      { name: "Escaped percentage wildcards (4)", expression: "'abc' LIKE 'a\\%b\\%c'", result: false },

      {
        name: "With access to event attributes",
        expression: "myext LIKE 'abc%123\\%456\\_d_f'",
        eventOverrides: { myext: "abc123123%456_dzf" },
        result: true,
      },
      {
        name: "With access to event attributes (negated)",
        expression: "myext NOT LIKE 'abc%123\\%456\\_d_f'",
        eventOverrides: { myext: "abc123123%456_dzf" },
        result: false,
      },

      { name: "With type coercion from int (1)", expression: "234 LIKE '23_'", result: true },
      { name: "With type coercion from int (2)", expression: "2344 LIKE '23%'", result: true },
      { name: "With type coercion from int (3)", expression: "2344 LIKE '23_'", result: false },

      { name: "With type coercion from bool (1)", expression: "TRUE LIKE 'tr%'", result: true },
      { name: "With type coercion from bool (2)", expression: "TRUE LIKE '%ue'", result: true },
      { name: "With type coercion from bool (3)", expression: "FALSE LIKE 'tr%'", result: false },
      { name: "With type coercion from bool (4)", expression: "FALSE LIKE 'fal%'", result: true },

      {
        name: "Invalid string literal in comparison causes parse error",
        expression: "x LIKE 123",
        result: false,
        error: "parse",
        eventOverrides: { x: "123" },
      },
      {
        name: "Missing attribute returns empty string",
        expression: "missing LIKE 'missing'",
        result: false,
        error: "missingAttribute",
      },
    ],
  },
  {
    file: "literals",
    name: "Literals",
    source: `${SPEC}@e661fa7ec8c1aae9f21a6b3bfb5605a09466d8dc cesql/cesql_tck/literals.yaml`,
    tests: [
      { name: "TRUE literal", expression: "TRUE", result: true },
      { name: "FALSE literal", expression: "FALSE", result: false },

      { name: "0 literal", expression: "0", result: 0 },
      { name: "1 literal", expression: "1", result: 1 },

      { name: "String literal single quoted", expression: "'abc'", result: "abc" },
      { name: "String literal double quoted", expression: '"abc"', result: "abc" },

      { name: "String literal single quoted with case", expression: "'aBc'", result: "aBc" },
      { name: "String literal double quoted with case", expression: '"AbC"', result: "AbC" },

      { name: "Escaped string literal (1)", expression: "'a\"b\\'c'", result: "a\"b'c" },
      { name: "Escaped string literal (2)", expression: '"a\'b\\"c"', result: "a'b\"c" },
    ],
  },
  {
    file: "negate_operator",
    name: "Negate operator",
    source: `${SPEC}@51289f0f9cdb502bc2afe29895fd0a8cca86e9ae cesql/cesql_tck/negate_operator.yaml`,
    tests: [
      { name: "Minus 10", expression: "-10", result: -10 },
      { name: "Minus minus 10", expression: "--10", result: 10 },

      { name: "Minus 10 with casting", expression: "-'10'", result: -10 },
      { name: "Minus minus 10 with casting", expression: "--'10'", result: 10 },

      { name: "Minus with boolean cast", expression: "-TRUE", result: -1 },

      { name: "Minus with missing attribute", expression: "-missing", result: 0, error: "missingAttribute" },
    ],
  },
  {
    file: "not_operator",
    name: "Not operator",
    source: `${SDK_GO}@dc3d9b19a384f228f485392aa6e5069862317550 sql/v2/test/tck/not_operator.yaml`,
    note:
      "cloudevents/spec@c0927d12 still expects `NOT 10` to be true with a cast error, which predates v1's " +
      "Integer -> Boolean cast (spec §3.7: MUST); sdk-go's copy expects false, which is what v1 says.",
    tests: [
      { name: "Not true", expression: "NOT TRUE", result: false },
      { name: "Not false", expression: "NOT FALSE", result: true },

      { name: "Not true with casting", expression: "NOT 'TRUE'", result: false },
      { name: "Not false 10 with casting", expression: "NOT 'FALSE'", result: true },

      { name: "Not true with casting", expression: "NOT 10", result: false },

      { name: "Not missing attribute", expression: "NOT missing", result: false, error: "missingAttribute" },
    ],
  },
  {
    file: "spec_examples",
    name: "Specification examples",
    source: `${SPEC}@6ca6d5add2a8196d83e721c6f4f4468feafb6e83 cesql/cesql_tck/spec_examples.yaml`,
    tests: [
      {
        name: "Case insensitive hops (1)",
        expression: "int(hop) < int(ttl) and int(hop) < 1000",
        eventOverrides: { hop: "5", ttl: "10" },
        result: true,
      },
      {
        name: "Case insensitive hops (2)",
        expression: "INT(hop) < INT(ttl) AND INT(hop) < 1000",
        eventOverrides: { hop: "5", ttl: "10" },
        result: true,
      },
      {
        name: "Case insensitive hops (3)",
        expression: "hop < ttl",
        eventOverrides: { hop: "5", ttl: "10" },
        result: true,
      },

      { name: "Equals with casting (1)", expression: "sequence = 5", eventOverrides: { sequence: "5" }, result: true },
      { name: "Equals with casting (2)", expression: "sequence = 5", eventOverrides: { sequence: "6" }, result: false },

      {
        name: "Logic expression (1)",
        expression: "firstname = 'Francesco' OR subject = 'Francesco'",
        eventOverrides: { subject: "Francesco", firstname: "Doug" },
        result: true,
      },
      {
        name: "Logic expression (2)",
        expression: "firstname = 'Francesco' OR subject = 'Francesco'",
        eventOverrides: { firstname: "Francesco", subject: "Doug" },
        result: true,
      },
      {
        name: "Logic expression (3)",
        expression: "(firstname = 'Francesco' AND lastname = 'Guardiani') OR subject = 'Francesco Guardiani'",
        eventOverrides: { subject: "Doug", firstname: "Francesco", lastname: "Guardiani" },
        result: true,
      },
      {
        name: "Logic expression (4)",
        expression: "(firstname = 'Francesco' AND lastname = 'Guardiani') OR subject = 'Francesco Guardiani'",
        eventOverrides: { subject: "Francesco Guardiani", firstname: "Doug", lastname: "Davis" },
        result: true,
      },

      {
        name: "Subject exists",
        expression: "EXISTS subject",
        eventOverrides: { subject: "Francesco Guardiani" },
        result: true,
      },
    ],
  },
  {
    file: "string_builtin_functions",
    name: "String builtin functions",
    source: `${SPEC}@796d1df4f72cfc4a34ecca81468d7580ebaa8d8e cesql/cesql_tck/string_builtin_functions.yaml`,
    tests: [
      { name: "LENGTH (1)", expression: "LENGTH('abc')", result: 3 },
      { name: "LENGTH (2)", expression: "LENGTH('')", result: 0 },
      { name: "LENGTH (3)", expression: "LENGTH('2')", result: 1 },
      { name: "LENGTH (4)", expression: "LENGTH(TRUE)", result: 4 },

      { name: "CONCAT (1)", expression: "CONCAT('a', 'b', 'c')", result: "abc" },
      { name: "CONCAT (2)", expression: "CONCAT()", result: "" },
      { name: "CONCAT (3)", expression: "CONCAT('a')", result: "a" },

      { name: "CONCAT_WS (1)", expression: "CONCAT_WS(',', 'a', 'b', 'c')", result: "a,b,c" },
      { name: "CONCAT_WS (2)", expression: "CONCAT_WS(',')", result: "" },
      { name: "CONCAT_WS (3)", expression: "CONCAT_WS(',', 'a')", result: "a" },
      {
        name: "CONCAT_WS without arguments doesn't exist",
        expression: "CONCAT_WS()",
        error: "missingFunction",
        result: false,
      },

      { name: "LOWER (1)", expression: "LOWER('ABC')", result: "abc" },
      { name: "LOWER (2)", expression: "LOWER('AbC')", result: "abc" },
      { name: "LOWER (3)", expression: "LOWER('abc')", result: "abc" },

      { name: "UPPER (1)", expression: "UPPER('ABC')", result: "ABC" },
      { name: "UPPER (2)", expression: "UPPER('AbC')", result: "ABC" },
      { name: "UPPER (3)", expression: "UPPER('abc')", result: "ABC" },

      { name: "TRIM (1)", expression: "TRIM('   a b c   ')", result: "a b c" },
      { name: "TRIM (2)", expression: "TRIM('   a b c')", result: "a b c" },
      { name: "TRIM (3)", expression: "TRIM('a b c   ')", result: "a b c" },
      { name: "TRIM (4)", expression: "TRIM('a b c')", result: "a b c" },

      { name: "LEFT (1)", expression: "LEFT('abc', 2)", result: "ab" },
      { name: "LEFT (2)", expression: "LEFT('abc', 10)", result: "abc" },
      { name: "LEFT (3)", expression: "LEFT('', 0)", result: "" },
      { name: "LEFT (4)", expression: "LEFT('abc', -2)", result: "abc", error: "functionEvaluation" },

      { name: "RIGHT (1)", expression: "RIGHT('abc', 2)", result: "bc" },
      { name: "RIGHT (2)", expression: "RIGHT('abc', 10)", result: "abc" },
      { name: "RIGHT (3)", expression: "RIGHT('', 0)", result: "" },
      { name: "RIGHT (4)", expression: "RIGHT('abc', -2)", result: "abc", error: "functionEvaluation" },

      { name: "SUBSTRING (1)", expression: "SUBSTRING('abcdef', 1)", result: "abcdef" },
      { name: "SUBSTRING (2)", expression: "SUBSTRING('abcdef', 2)", result: "bcdef" },
      { name: "SUBSTRING (3)", expression: "SUBSTRING('Quadratically', 5)", result: "ratically" },
      { name: "SUBSTRING (4)", expression: "SUBSTRING('Sakila', -3)", result: "ila" },
      { name: "SUBSTRING (5)", expression: "SUBSTRING('abcdef', 1, 6)", result: "abcdef" },
      { name: "SUBSTRING (6)", expression: "SUBSTRING('abcdef', 2, 4)", result: "bcde" },
      { name: "SUBSTRING (7)", expression: "SUBSTRING('Sakila', -5, 3)", result: "aki" },
      { name: "SUBSTRING (8)", expression: "SUBSTRING('Quadratically', 0)", result: "" },
      { name: "SUBSTRING (9)", expression: "SUBSTRING('Quadratically', 0, 1)", result: "" },
      { name: "SUBSTRING (10)", expression: "SUBSTRING('abcdef', 10)", result: "", error: "functionEvaluation" },
      { name: "SUBSTRING (11)", expression: "SUBSTRING('abcdef', -10)", result: "", error: "functionEvaluation" },
      { name: "SUBSTRING (12)", expression: "SUBSTRING('abcdef', 10, 10)", result: "", error: "functionEvaluation" },
      { name: "SUBSTRING (13)", expression: "SUBSTRING('abcdef', -10, 10)", result: "", error: "functionEvaluation" },
    ],
  },
  {
    file: "sub_expression",
    name: "Sub expressions",
    source: `${SPEC}@6ca6d5add2a8196d83e721c6f4f4468feafb6e83 cesql/cesql_tck/sub_expression.yaml`,
    tests: [
      { name: "Sub expression with literal", expression: "(TRUE)", result: true },

      { name: "Math (1)", expression: "4 * (2 + 3)", result: 20 },
      { name: "Math (2)", expression: "(2 + 3) * 4", result: 20 },
    ],
  },
  {
    file: "subscriptions_api_recreations",
    name: "SubscriptionsAPI Recreations",
    source: `${SDK_GO}@c48191a9fa808ce82387375386c4ab97b166f8fd sql/v2/test/tck/subscriptions_api_recreations.yaml`,
    note:
      "cloudevents/spec@1edbb753 has the same cases but spells the key `expresion` in the four Disjunctive Normal Form " +
      "cases and expects true for Conjunctive Normal Form (4), which its own expression makes false; sdk-go's copy " +
      "fixes both.",
    tests: [
      {
        name: "Prefix filter (1)",
        expression: "source LIKE 'https://%'",
        result: true,
        eventOverrides: { source: "https://example.com" },
      },
      {
        name: "Prefix filter (2)",
        expression: "source LIKE 'https://%'",
        result: false,
        eventOverrides: { source: "http://example.com" },
      },
      {
        name: "Prefix filter on string extension",
        expression: "myext LIKE 'custom%'",
        result: true,
        eventOverrides: { myext: "customext" },
      },
      {
        name: "Prefix filter on missing string extension",
        expression: "myext LIKE 'custom%'",
        result: false,
        error: "missingAttribute",
      },

      {
        name: "Suffix filter (1)",
        expression: "type like '%.error'",
        result: true,
        eventOverrides: { type: "com.github.error" },
      },
      {
        name: "Suffix filter (2)",
        expression: "type like '%.error'",
        result: false,
        eventOverrides: { type: "com.github.success" },
      },
      {
        name: "Suffix filter on string extension",
        expression: "myext LIKE '%ext'",
        result: true,
        eventOverrides: { myext: "customext" },
      },
      {
        name: "Suffix filter on missing string extension",
        expression: "myext LIKE '%ext'",
        result: false,
        error: "missingAttribute",
      },

      { name: "Exact filter (1)", expression: "id = 'myId'", result: true, eventOverrides: { id: "myId" } },
      { name: "Exact filter  (2)", expression: "id = 'myId'", result: false, eventOverrides: { id: "notmyId" } },
      {
        name: "Exact filter on string extension",
        expression: "myext = 'customext'",
        result: true,
        eventOverrides: { myext: "customext" },
      },
      {
        name: "Exact filter on missing string extension",
        expression: "myext = 'customext'",
        result: false,
        error: "missingAttribute",
      },

      {
        name: "Prefix filter AND Suffix filter (1)",
        expression: "id LIKE 'my%' AND source LIKE '%.ca'",
        result: true,
        eventOverrides: { id: "myId", source: "http://www.some-website.ca" },
      },
      {
        name: "Prefix filter AND Suffix filter (2)",
        expression: "id LIKE 'my%' AND source LIKE '%.ca'",
        result: false,
        eventOverrides: { id: "myId", source: "http://www.some-website.com" },
      },
      {
        name: "Prefix filter AND Suffix filter (3)",
        expression: "myext LIKE 'custom%' AND type LIKE '%.error'",
        result: true,
        eventOverrides: { myext: "customext", type: "com.github.error" },
      },
      {
        name: "Prefix AND Suffix filter (4)",
        expression: "type LIKE 'example.%' AND myext LIKE 'custom%'",
        result: false,
        eventOverrides: { type: "example.event.type" },
        error: "missingAttribute",
      },

      {
        name: "Prefix OR Suffix filter (1)",
        expression: "id LIKE 'my%' OR source LIKE '%.ca'",
        result: true,
        eventOverrides: { id: "myId", source: "http://www.some-website.ca" },
      },
      {
        name: "Prefix OR Suffix filter (2)",
        expression: "id LIKE 'my%' OR source LIKE '%.ca'",
        result: true,
        eventOverrides: { id: "myId", source: "http://www.some-website.com" },
      },
      {
        name: "Prefix OR Suffix filter (3)",
        expression: "id LIKE 'my%' OR source LIKE '%.ca'",
        result: true,
        eventOverrides: { id: "notmyId", source: "http://www.some-website.ca" },
      },
      {
        name: "Prefix OR Suffix filter (4)",
        expression: "id LIKE 'my%' OR source LIKE '%.ca'",
        result: false,
        eventOverrides: { id: "notmyId", source: "http://www.some-website.com" },
      },

      {
        name: "Disjunctive Normal Form (1)",
        expression:
          "(id = 'myId' AND type LIKE '%.success') OR (id = 'notmyId' AND source LIKE 'http://%' AND type LIKE '%.warning')",
        result: true,
        eventOverrides: { id: "myId", type: "example.event.success" },
      },
      {
        name: "Disjunctive Normal Form (2)",
        expression:
          "(id = 'myId' AND type LIKE '%.success') OR (id = 'notmyId' AND source LIKE 'http://%' AND type LIKE '%.warning')",
        result: true,
        eventOverrides: { id: "notmyId", type: "example.event.warning", source: "http://localhost.localdomain" },
      },
      {
        name: "Disjunctive Normal Form (3)",
        expression:
          "(id = 'myId' AND type LIKE '%.success') OR (id = 'notmyId' AND source LIKE 'http://%' AND type LIKE '%.warning')",
        result: false,
        eventOverrides: { id: "notmyId", type: "example.event.warning", source: "https://localhost.localdomain" },
      },

      {
        name: "Conjunctive Normal Form (1)",
        expression:
          "(id = 'myId' OR type LIKE '%.success') AND (id = 'notmyId' OR source LIKE 'https://%' OR type LIKE '%.warning')",
        result: true,
        eventOverrides: { id: "myId", type: "example.event.warning", source: "http://localhost.localdomain" },
      },
      {
        name: "Conjunctive Normal Form (2)",
        expression:
          "(id = 'myId' OR type LIKE '%.success') AND (id = 'notmyId' OR source LIKE 'https://%' OR type LIKE '%.warning')",
        result: true,
        eventOverrides: { id: "notmyId", type: "example.event.success", source: "http://localhost.localdomain" },
      },
      {
        name: "Conjunctive Normal Form (3)",
        expression:
          "(id = 'myId' OR type LIKE '%.success') AND (id = 'notmyId' OR source LIKE 'https://%' OR type LIKE '%.warning')",
        result: false,
        eventOverrides: { id: "notmyId", type: "example.event.warning", source: "http://localhost.localdomain" },
      },
      {
        name: "Conjunctive Normal Form (4)",
        expression:
          "(id = 'myId' OR type LIKE '%.success') AND (id = 'notmyId' OR source LIKE 'https://%' OR type LIKE '%.warning')",
        result: false,
        eventOverrides: { id: "myId", type: "example.event.success", source: "http://localhost.localdomain" },
      },
      {
        name: "Conjunctive Normal Form (5)",
        expression:
          "(id = 'myId' OR type LIKE '%.success') AND (id = 'notmyId' OR source LIKE 'https://%' OR type LIKE '%.warning') AND (myext = 'customext')",
        result: false,
        eventOverrides: { id: "myId", type: "example.event.warning", source: "http://localhost.localdomain" },
        error: "missingAttribute",
      },
    ],
  },
  {
    file: "user_defined_functions",
    name: "User defined functions",
    source: `${SDK_GO}@22596a9eadcf376e13bc90274c6ad007e88874e9 sql/v2/runtime/test/tck/user_defined_functions.yaml`,
    note: "Runs with sdk-go's tck_test.go functions: HASPREFIX(String, String) and variadic KONKAT(String...).",
    tests: [
      { name: "HASPREFIX (1)", expression: "HASPREFIX('abcdef', 'ab')", result: true },
      { name: "HASPREFIX (2)", expression: "HASPREFIX('abcdef', 'abcdef')", result: true },
      { name: "HASPREFIX (3)", expression: "HASPREFIX('abcdef', '')", result: true },
      { name: "HASPREFIX (4)", expression: "HASPREFIX('abcdef', 'gh')", result: false },
      { name: "HASPREFIX (5)", expression: "HASPREFIX('abcdef', 'abcdefg')", result: false },

      { name: "KONKAT (1)", expression: "KONKAT('a', 'b', 'c')", result: "abc" },
      { name: "KONKAT (2)", expression: "KONKAT()", result: "" },
      { name: "KONKAT (3)", expression: "KONKAT('a')", result: "a" },
    ],
  },
];

const DERIVED = "derived from the CESQL v1 spec and CESQLLexer.g4/CESQLParser.g4; NOT the upstream YAML";

/** Suites named like the upstream TCK files that could not be read; every case here is written from the spec. */
export const SPEC_DERIVED_FILES: readonly TckFile[] = [
  {
    file: "case_sensitivity",
    name: "Case sensitivity",
    source: `${DERIVED} (§2: keywords are case-insensitive; §3.4.2 and §3.4.3: string comparison and LIKE are not)`,
    tests: [
      { name: "TRUE", expression: "TRUE", result: true },
      { name: "true", expression: "true", result: true },
      { name: "tRuE", expression: "tRuE", result: true },
      { name: "FALSE", expression: "FALSE", result: false },
      { name: "false", expression: "false", result: false },
      { name: "FaLsE", expression: "FaLsE", result: false },
      { name: "AND / and / AnD", expression: "TRUE AND true and TrUe AnD TRUE", result: true },
      { name: "OR / or", expression: "FALSE or false OR TRUE", result: true },
      { name: "XOR / xor", expression: "TRUE xor FALSE", result: true },
      { name: "NOT / not", expression: "not FALSE", result: true },
      { name: "LIKE / like", expression: "'abc' like 'a%' AND 'abc' LiKe 'a%'", result: true },
      { name: "NOT LIKE / not like", expression: "'abc' not like 'z%'", result: true },
      { name: "IN / in", expression: "1 in (1) AND 1 In (1)", result: true },
      { name: "NOT IN / not in", expression: "1 not in (2)", result: true },
      { name: "EXISTS", expression: "EXISTS specversion", result: true },
      { name: "exists", expression: "exists specversion", result: true },
      { name: "eXiStS", expression: "eXiStS specversion", result: true },
      { name: "ABS", expression: "ABS(-10)", result: 10 },
      { name: "abs", expression: "abs(-10)", result: 10 },
      { name: "aBs", expression: "aBs(-10)", result: 10 },
      { name: "concat_ws", expression: "concat_ws('-', 'a', 'b')", result: "a-b" },
      { name: "String equality is case sensitive", expression: "'abc' = 'ABC'", result: false },
      { name: "LIKE is case sensitive", expression: "'aBc' LIKE '_b%'", result: false },
      { name: "Boolean cast to String (1)", expression: 'TRUE = "true" AND FALSE = "false"', result: true },
      { name: "Boolean cast to String (2)", expression: 'TRUE = "TRUE" OR FALSE = "FALSE"', result: false },
      { name: "String cast to Boolean ignores case", expression: "BOOL('TrUe')", result: true },
      {
        name: "Upper-case attribute names address the lower-case attribute (sdk-go lower-cases identifiers)",
        expression: "SUBJECT = 'topic'",
        result: true,
      },
    ],
  },
  {
    file: "exists_expression",
    name: "Exists expression",
    source: `${DERIVED} (§3.4.4)`,
    tests: [
      { name: "Required attribute specversion", expression: "EXISTS specversion", result: true },
      { name: "Required attribute id", expression: "EXISTS id", result: true },
      { name: "Required attribute source", expression: "EXISTS source", result: true },
      { name: "Required attribute type", expression: "EXISTS type", result: true },
      {
        name: "Required attributes always exist, the event being valid by assumption",
        expression: "EXISTS id AND EXISTS source AND EXISTS type AND EXISTS specversion",
        event: {},
        result: true,
      },
      { name: "Present optional attribute", expression: "EXISTS subject", result: true },
      {
        name: "Absent optional attribute is false without error",
        expression: "EXISTS subject",
        event: { specversion: "1.0", id: "myId", source: "localhost.localdomain", type: "myType" },
        result: false,
      },
      { name: "Present extension", expression: "EXISTS myext", eventOverrides: { myext: "x" }, result: true },
      {
        name: "Present extension with a false value",
        expression: "EXISTS mybool",
        eventOverrides: { mybool: false },
        result: true,
      },
      {
        name: "Present extension with an empty value",
        expression: "EXISTS myext",
        eventOverrides: { myext: "" },
        result: true,
      },
      { name: "Absent extension is false without error", expression: "EXISTS myext", result: false },
      { name: "NOT EXISTS absent extension", expression: "NOT EXISTS myext", result: true },
      { name: "Identifier with digits", expression: "EXISTS ext1", eventOverrides: { ext1: "x" }, result: true },
      {
        name: "EXISTS in a conjunction",
        expression: "EXISTS myext AND myext = 'x'",
        eventOverrides: { myext: "x" },
        result: true,
      },
      {
        name: "EXISTS guards a missing attribute through short-circuit",
        expression: "EXISTS myext AND myext = 'x'",
        result: false,
      },
      { name: "EXISTS needs an identifier, not a string", expression: "EXISTS 'id'", error: "parse" },
      { name: "EXISTS needs an identifier, not an integer", expression: "EXISTS 1", error: "parse" },
      { name: "EXISTS without operand", expression: "EXISTS", error: "parse" },
      { name: "EXISTS of an expression", expression: "EXISTS (id)", error: "parse" },
    ],
  },
  {
    file: "in_expression",
    name: "In expression",
    source: `${DERIVED} (§3.4.5, and §3.7: the left operand's type is the target type of the set elements)`,
    tests: [
      { name: "String in set", expression: "'a' IN ('a', 'b')", result: true },
      { name: "String not in set", expression: "'c' IN ('a', 'b')", result: false },
      { name: "Integer in set", expression: "2 IN (1, 2, 3)", result: true },
      { name: "Integer not in set", expression: "4 IN (1, 2, 3)", result: false },
      { name: "Boolean in set", expression: "TRUE IN (FALSE, TRUE)", result: true },
      { name: "Single element set", expression: "'a' IN ('a')", result: true },
      { name: "NOT IN (1)", expression: "'a' NOT IN ('a', 'b')", result: false },
      { name: "NOT IN (2)", expression: "'c' NOT IN ('a', 'b')", result: true },
      { name: "Set elements cast to the left type (Integer)", expression: "1 IN ('1', '2')", result: true },
      { name: "Set elements cast to the left type (String)", expression: "'1' IN (1, 2)", result: true },
      { name: "Set elements cast to the left type (Boolean)", expression: "TRUE IN ('true')", result: true },
      { name: "Left type is the target, not the element type", expression: "'TRUE' IN (TRUE)", result: false },
      { name: "Failed element cast", expression: "1 IN ('a')", result: false, error: "cast" },
      { name: "Set elements are expressions", expression: "2 IN (1 + 1)", result: true },
      {
        name: "Attribute on the left",
        expression: "myext IN ('a', 'b')",
        eventOverrides: { myext: "b" },
        result: true,
      },
      {
        name: "Integer attribute with string set",
        expression: "myint IN ('10')",
        eventOverrides: { myint: 10 },
        result: true,
      },
      {
        name: "Missing attribute on the left",
        expression: "missing IN (1, 2)",
        result: false,
        error: "missingAttribute",
      },
      { name: "Missing attribute in the set", expression: "1 IN (missing)", result: false, error: "missingAttribute" },
      {
        name: "Missing attribute in NOT IN",
        expression: "missing NOT IN (1)",
        result: false,
        error: "missingAttribute",
      },
      { name: "Empty set", expression: "'a' IN ()", error: "parse" },
      { name: "Set without parentheses", expression: "'a' IN 'a'", error: "parse" },
      { name: "Unclosed set", expression: "'a' IN ('a'", error: "parse" },
      { name: "Trailing comma", expression: "'a' IN ('a',)", error: "parse" },
    ],
  },
  {
    file: "parse_errors",
    name: "Parse errors",
    source: `${DERIVED} (§2 and the lexer rules)`,
    tests: [
      { name: "Empty expression", expression: "", error: "parse" },
      { name: "Only blanks", expression: "  \t\n", error: "parse" },
      { name: "Binary operator without right operand", expression: "TRUE AND", error: "parse" },
      { name: "Binary operator without left operand", expression: "= 1", error: "parse" },
      { name: "Dangling arithmetic operator", expression: "1 +", error: "parse" },
      { name: "Unclosed parenthesis", expression: "(TRUE", error: "parse" },
      { name: "Unopened parenthesis", expression: "TRUE)", error: "parse" },
      { name: "Empty parentheses", expression: "()", error: "parse" },
      { name: "Two operands without operator", expression: "1 2", error: "parse" },
      { name: "Two identifiers without operator", expression: "a b", error: "parse" },
      { name: "Unterminated single-quoted string", expression: "'abc", error: "parse" },
      { name: "Unterminated double-quoted string", expression: '"abc', error: "parse" },
      { name: "String ending in an escaped quote", expression: "'abc\\'", error: "parse" },
      { name: "Unclosed function call", expression: "ABS(1", error: "parse" },
      { name: "Function call with a dangling comma", expression: "CONCAT('a',)", error: "parse" },
      { name: "Function call with an empty argument", expression: "CONCAT(,'a')", error: "parse" },
      { name: "Function name with digits", expression: "F1(2)", error: "parse" },
      { name: "Attribute name with an underscore", expression: "my_attr = 'x'", error: "parse" },
      { name: "Attribute name starting with an underscore", expression: "_attr = 1", error: "parse" },
      { name: "Attribute name with a dot", expression: "data.field = 1", error: "parse" },
      { name: "Keyword as attribute name", expression: "in = 1", error: "parse" },
      { name: "Integer literal above the 32-bit range", expression: "2147483648", error: "parse" },
      { name: "Integer literal below the 32-bit range", expression: "-2147483649", error: "parse" },
      { name: "Bang without equals", expression: "1 ! 2", error: "parse" },
      { name: "Double equals", expression: "1 == 1", error: "parse" },
      { name: "Unknown character", expression: "1 & 1", error: "parse" },
      { name: "Non-ASCII letter", expression: "é = 1", error: "parse" },
      { name: "LIKE with an attribute as pattern", expression: "x LIKE y", error: "parse" },
      { name: "LIKE without pattern", expression: "x LIKE", error: "parse" },
      { name: "NOT before neither LIKE nor IN", expression: "x NOT = 1", error: "parse" },
      { name: "Trailing operator after a complete expression", expression: "TRUE TRUE", error: "parse" },
      { name: "Semicolon", expression: "TRUE;", error: "parse" },
    ],
  },
];
