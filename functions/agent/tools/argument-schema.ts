import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";

/**
 * A tool's arguments checked against its JSON Schema with Ajv, a complete validator: `$ref`/`$defs`, `oneOf`,
 * `patternProperties`, `dependentRequired`, `unevaluatedProperties`, formats and everything else the dialect defines.
 * Tools reach the agent with arbitrary published schemas (an MCP server's, an external skill's), so a schema that
 * cannot be compiled is reported as such and the catalog withholds the tool: no tool is ever called unvalidated.
 *
 * The dialect is the schema's `$schema`: draft-07 (and draft-06, which it extends), 2019-09, or 2020-12 when absent
 * (the descriptor's and MCP's default). Unknown keywords and formats are annotations, as the specification says, so
 * vendor extensions do not make a tool unavailable.
 */
interface ArgumentIssue {
  /** Dotted path of the offending value, `(root)` for the arguments object itself. */
  path: string;
  message: string;
}

/** The issues of one set of arguments (at most MAX_ISSUES), or undefined when they are valid. */
export type ArgumentsCheck = (args: unknown) => ArgumentIssue[] | undefined;

type CompiledArguments = { ok: true; check: ArgumentsCheck } | { ok: false; reason: string };

const MAX_ISSUES = 20;

type Dialect = "draft-07" | "2019-09" | "2020-12";

const DIALECTS: ReadonlyArray<[RegExp, Dialect]> = [
  [/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/, "2020-12"],
  [/^https?:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/, "2019-09"],
  [/^https?:\/\/json-schema\.org\/draft-0[67]\/schema#?$/, "draft-07"],
];

const OPTIONS: Options = {
  // Unknown keywords are annotations (vendor extensions like `x-*`, OpenAPI's `discriminator`, `examples`).
  strict: false,
  // Every issue, so the model can fix all of them in one retry; MAX_ISSUES bounds what it is told.
  allErrors: true,
  // Ajv's warnings would go to the console; a schema it cannot use throws, which is what the catalog reports.
  logger: false,
};

const instances = new Map<Dialect, Ajv | Ajv2019 | Ajv2020>();

function ajvFor(dialect: Dialect): Ajv | Ajv2019 | Ajv2020 {
  let ajv = instances.get(dialect);
  if (ajv === undefined) {
    ajv =
      dialect === "2020-12" ? new Ajv2020(OPTIONS) : dialect === "2019-09" ? new Ajv2019(OPTIONS) : new Ajv(OPTIONS);
    formats.default(ajv);
    instances.set(dialect, ajv);
  }
  return ajv;
}

/** Compiled once per schema object: a catalog's descriptors live as long as the process. */
const compiled = new WeakMap<object, CompiledArguments>();

export function compileArguments(schema: Record<string, unknown>): CompiledArguments {
  let result = compiled.get(schema);
  if (result === undefined) {
    result = compile(schema);
    compiled.set(schema, result);
  }
  return result;
}

function compile(schema: Record<string, unknown>): CompiledArguments {
  const { $schema, ...body } = schema;
  let dialect: Dialect = "2020-12";
  if ($schema !== undefined) {
    const known = typeof $schema === "string" ? DIALECTS.find(([pattern]) => pattern.test($schema)) : undefined;
    if (known === undefined) {
      return { ok: false, reason: `unsupported JSON Schema dialect ${JSON.stringify($schema).slice(0, 120)}` };
    }
    dialect = known[1];
  }
  const ajv = ajvFor(dialect);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(body);
  } catch (error) {
    return { ok: false, reason: `its JSON Schema (${dialect}) does not compile: ${(error as Error).message}` };
  } finally {
    // The compiled function keeps what it resolved; dropping the schema from the instance lets two tools use the
    // same `$id` (independent servers often do) without one refusing to compile.
    ajv.removeSchema(body);
  }
  return {
    ok: true,
    check: (args) => (validate(args) ? undefined : (validate.errors ?? []).slice(0, MAX_ISSUES).map(toIssue)),
  };
}

function toIssue(error: ErrorObject): ArgumentIssue {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
  const named = namedProperty(error);
  if (named !== undefined) segments.push(named);
  let message = error.message ?? `fails ${error.keyword}`;
  if (error.keyword === "enum") {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    message = `${message}: ${allowed.map((value) => JSON.stringify(value)).join(", ")}`.slice(0, 300);
  }
  return { path: segments.join(".") || "(root)", message };
}

/** The property a keyword reports in its params rather than in the instance path (a missing or an extra one). */
function namedProperty(error: ErrorObject): string | undefined {
  const params = error.params as Record<string, unknown>;
  const name = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
  return typeof name === "string" ? name : undefined;
}
