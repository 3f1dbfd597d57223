import { z } from "zod";
import type { FunctionEnv } from "./function.ts";

/**
 * A function's environment contract: every variable it reads, declared once with its name, its zod schema, how it
 * travels (plain text, JSON, or a Secret reference) and what it means. The function parses its env through the
 * contract (typed, with errors that name the variable and never its value); the renderer writes the ksvc's env from
 * the same contract; the README tables are generated from it. So a variable's name and shape are written once.
 *
 * Whether a variable is required, optional or defaulted is the schema's own: `z.string()` is required,
 * `.optional()` optional, `.default(x)` defaulted. An unset or blank variable reaches the schema as `undefined`.
 */

/** One entry of a container's `env`, as the renderer writes it. */
export type EnvVar =
  | { name: string; value: string }
  | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } };

/** Where a secret variable's value comes from; `optional` lets the pod start without the Secret. */
interface SecretKeyRef {
  secret: string;
  key: string;
  optional?: boolean;
}

type Encoding = "text" | "json" | "secret";

interface EnvVarSpec<S extends z.ZodType = z.ZodType, E extends Encoding = Encoding> {
  readonly name: string;
  readonly schema: S;
  /** `text`: the value as is; `json`: JSON-encoded structured setting; `secret`: text from a Secret reference. */
  readonly encoding: E;
  readonly description: string;
  /** An empty value is a value (not "unset"): only for variables where "" means something. */
  readonly keepEmpty: boolean;
}

/**
 * A family of variables sharing a prefix, one per name chosen in the config (e.g. one gateway token per token
 * name): `<prefix><SUFFIX>`.
 */
interface EnvFamilySpec<S extends z.ZodType = z.ZodType, E extends Encoding = Encoding> {
  readonly prefix: string;
  /** How the README shows the varying part, e.g. `<NAME>`. */
  readonly placeholder: string;
  readonly schema: S;
  readonly encoding: E;
  readonly description: string;
}

/** A plain-text variable (`z.string()` unless a schema says otherwise, e.g. `envInteger`). */
export function text(name: string, description: string): EnvVarSpec<z.ZodString, "text">;
export function text<S extends z.ZodType>(
  name: string,
  description: string,
  schema: S,
  options?: { keepEmpty?: boolean },
): EnvVarSpec<S, "text">;
export function text(
  name: string,
  description: string,
  schema: z.ZodType = z.string(),
  options: { keepEmpty?: boolean } = {},
): EnvVarSpec<z.ZodType, "text"> {
  return { name, schema, encoding: "text", description, keepEmpty: !!options.keepEmpty };
}

/** A structured setting passed as JSON in one variable; the schema describes the decoded value. */
export function json<S extends z.ZodType>(name: string, description: string, schema: S): EnvVarSpec<S, "json"> {
  return { name, schema, encoding: "json", description, keepEmpty: false };
}

/** A variable whose value comes from a Secret (rendered as a `secretKeyRef`, never as a value). */
export function secret(name: string, description: string): EnvVarSpec<z.ZodString, "secret">;
export function secret<S extends z.ZodType>(name: string, description: string, schema: S): EnvVarSpec<S, "secret">;
export function secret(name: string, description: string, schema: z.ZodType = z.string()): EnvVarSpec {
  return { name, schema, encoding: "secret", description, keepEmpty: false };
}

/** A family of secret variables `<prefix><SUFFIX>`, e.g. one per token name in the config. */
export function secretFamily<S extends z.ZodType>(
  prefix: string,
  placeholder: string,
  description: string,
  schema: S,
): EnvFamilySpec<S, "secret"> {
  return { prefix, placeholder, schema, encoding: "secret", description };
}

/** A family of plain-text variables `<prefix><SUFFIX>`. */
export function textFamily<S extends z.ZodType>(
  prefix: string,
  placeholder: string,
  description: string,
  schema: S,
): EnvFamilySpec<S, "text"> {
  return { prefix, placeholder, schema, encoding: "text", description };
}

/** An integer in a text variable, within bounds; the error says so without repeating the value. */
export function envInteger(min: number, max: number) {
  const message = `must be an integer between ${min} and ${max}`;
  return z.coerce.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, {
    error: message,
  });
}

/** `true` or `false` in a text variable. */
export function envBoolean() {
  return z.enum(["true", "false"], { error: "must be true or false" }).transform((value) => value === "true");
}

/** A function's environment is unusable: the message names the variable at fault, never its value. */
export class EnvError extends Error {
  override readonly name = "EnvError";
}

type AnySpec = EnvVarSpec | EnvFamilySpec;
type Specs = Record<string, AnySpec>;
type VarKeys<V extends Specs> = { [K in keyof V]: V[K] extends EnvVarSpec ? K : never }[keyof V];
type FamilyKeys<V extends Specs> = { [K in keyof V]: V[K] extends EnvFamilySpec ? K : never }[keyof V];

/** The typed result of parsing: one field per (non-family) variable. */
type ParsedEnv<V extends Specs> = { [K in VarKeys<V>]: z.output<V[K]["schema"]> };

/** What the renderer provides per variable: text as a string/number/boolean, JSON as the value, a secret as a ref. */
type RenderValue<T extends AnySpec> = T["encoding"] extends "secret"
  ? SecretKeyRef
  : T["encoding"] extends "json"
    ? z.input<T["schema"]>
    : string | number | boolean;

type RenderValues<V extends Specs> = { [K in VarKeys<V>]?: RenderValue<V[K]> | undefined };

/** One row of a README table. */
export interface EnvDoc {
  variable: string;
  /** `required`, `optional`, or the default as text. */
  presence: string;
  secret: boolean;
  json: boolean;
  description: string;
}

export interface EnvContract<V extends Specs> {
  readonly vars: V;
  /** Variable names (family prefixes for families) by key. */
  readonly names: { [K in keyof V]: string };
  /** Every (non-family) variable, parsed and typed; throws EnvError naming the first variable at fault. */
  parse(env: FunctionEnv): ParsedEnv<V>;
  /** One variable, parsed and typed. */
  read<K extends VarKeys<V>>(env: FunctionEnv, key: K): z.output<V[K]["schema"]>;
  /** The variable of a family for one suffix (already in the variable's spelling). */
  familyName(key: FamilyKeys<V>, suffix: string): string;
  /** One member of a family, parsed; `undefined` input when unset, so a required schema reports it. */
  readFamily<K extends FamilyKeys<V>>(env: FunctionEnv, key: K, suffix: string): z.output<V[K]["schema"]>;
  /**
   * The env entries for the values given (undefined ones skipped), in the contract's declaration order, so the same
   * config always renders the same bytes.
   */
  render(values: RenderValues<V>): EnvVar[];
  /** The env entry of one family member: a value for a text family, a Secret reference for a secret one. */
  renderFamily<K extends FamilyKeys<V>>(key: K, suffix: string, value: RenderValue<V[K]>): EnvVar;
  /** README rows, in declaration order. */
  docs(): EnvDoc[];
}

export function defineEnv<V extends Specs>(vars: V): EnvContract<V> {
  const names = Object.fromEntries(
    Object.entries(vars).map(([key, spec]) => [key, "name" in spec ? spec.name : spec.prefix]),
  ) as { [K in keyof V]: string };
  const isVar = (spec: AnySpec): spec is EnvVarSpec => "name" in spec;
  const family = (key: PropertyKey): EnvFamilySpec => vars[key as string] as EnvFamilySpec;
  return {
    vars,
    names,
    parse(env) {
      const out: Record<string, unknown> = {};
      for (const [key, spec] of Object.entries(vars)) if (isVar(spec)) out[key] = readVar(env, spec.name, spec);
      return out as ParsedEnv<V>;
    },
    read(env, key) {
      const spec = vars[key as string] as EnvVarSpec;
      return readVar(env, spec.name, spec) as never;
    },
    familyName: (key, suffix) => `${family(key).prefix}${suffix}`,
    readFamily(env, key, suffix) {
      const spec = family(key);
      return readVar(env, `${spec.prefix}${suffix}`, { ...spec, keepEmpty: false }) as never;
    },
    render(values) {
      const out: EnvVar[] = [];
      for (const [key, spec] of Object.entries(vars)) {
        const value = (values as Record<string, unknown>)[key];
        if (value === undefined || !isVar(spec)) continue;
        out.push(renderVar(spec.name, spec.encoding, value));
      }
      return out;
    },
    renderFamily: (key, suffix, value) => renderVar(`${family(key).prefix}${suffix}`, family(key).encoding, value),
    docs: () => Object.values(vars).map(docRow),
  };
}

function readVar(env: FunctionEnv, name: string, spec: Omit<EnvVarSpec, "name">): unknown {
  const raw = env[name];
  const unset = raw === undefined || (spec.keepEmpty ? false : raw.trim() === "");
  let input: unknown;
  if (!unset) {
    if (spec.encoding === "json") {
      try {
        input = JSON.parse(raw);
      } catch {
        // JSON.parse's own message quotes the input, which may hold secrets.
        throw new EnvError(`${name} is not valid JSON`);
      }
    } else input = raw;
  }
  const parsed = spec.schema.safeParse(input);
  if (parsed.success) return parsed.data;
  if (unset) throw new EnvError(`${name} is required: ${spec.description}`);
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  throw new EnvError(path === "" ? `${name}: ${issue.message}` : `${name}: ${path}: ${issue.message}`);
}

function renderVar(name: string, encoding: Encoding, value: unknown): EnvVar {
  if (encoding === "secret") {
    const ref = value as SecretKeyRef;
    const secretKeyRef = { name: ref.secret, key: ref.key, ...(ref.optional ? { optional: true } : {}) };
    return { name, valueFrom: { secretKeyRef } };
  }
  return { name, value: encoding === "json" ? stableJson(value) : String(value) };
}

/** Defaults longer than this are described in prose instead of printed in the README table. */
const MAX_DEFAULT_SHOWN = 40;

function docRow(spec: AnySpec): EnvDoc {
  const variable = "name" in spec ? spec.name : `${spec.prefix}${spec.placeholder}`;
  const unset = spec.schema.safeParse(undefined);
  // A family has as many members as the config names: none is required or optional as such.
  let presence = "name" in spec ? "required" : "one per name in the config";
  if (unset.success && "name" in spec) {
    const value = unset.data;
    // A text variable whose schema turns the text into a structure (a list of names) shows no default.
    const shown =
      value === undefined || (spec.encoding !== "json" && typeof value === "object")
        ? undefined
        : spec.encoding === "json"
          ? stableJson(value)
          : String(value);
    presence =
      shown === undefined || shown === "" || shown.length > MAX_DEFAULT_SHOWN ? "optional" : `default \`${shown}\``;
  }
  return {
    variable,
    presence,
    secret: spec.encoding === "secret",
    json: spec.encoding === "json",
    description: spec.description,
  };
}

/** Stable JSON: object keys sorted, so the same config always renders the same bytes. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
