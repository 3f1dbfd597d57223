/**
 * Reading knclaw.yaml: YAML syntax errors with line and column, literal secrets refused wherever they appear, then
 * the schema, every problem reported at once in a ConfigError.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Document, LineCounter, parseAllDocuments } from "yaml";
import type { z } from "zod";
import { detectLiteralSecret } from "../validate/secrets.ts";
import { ConfigError, type ConfigIssue, formatPath, type PathSegment } from "./errors.ts";
import { type PlatformConfig, PlatformConfigSchema } from "./schema.ts";

/** The shipped default config: a useful `knclaw dev` on a fresh machine, no secrets needed. */
export const defaultConfigPath: string = fileURLToPath(new URL("../defaults/knclaw.yaml", import.meta.url));

export type ConfigSource = string | { path: string } | { text: string; name?: string };

/**
 * Load and validate a config. A string is a path unless it contains a line break (then it is YAML text).
 * Throws ConfigError listing every problem.
 */
export function loadConfig(source: ConfigSource = defaultConfigPath): PlatformConfig {
  if (typeof source === "string") source = source.includes("\n") ? { text: source } : { path: source };
  if ("path" in source) {
    if (!existsSync(source.path)) {
      throw new ConfigError([{ path: "", rule: "file", message: `no such file: ${source.path}` }], source.path);
    }
    const config = parseConfigText(readFileSync(source.path, "utf8"), source.path);
    // Skill folders are written relative to the file, so the config means the same from any working directory.
    config.skillFolders = config.skillFolders.map((dir) => resolve(dirname(source.path), dir));
    return config;
  }
  return parseConfigText(source.text, source.name);
}

function parseConfigText(text: string, sourceName?: string): PlatformConfig {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const syntax: ConfigIssue[] = [];
  for (const doc of list) {
    for (const error of doc.errors) {
      const pos = error.linePos?.[0];
      syntax.push({
        path: "",
        rule: "yaml-syntax",
        message: error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
        ...(pos ? { line: pos.line, column: pos.col } : {}),
      });
    }
  }
  if (syntax.length > 0) throw new ConfigError(syntax, sourceName);
  if (list.length === 0)
    throw new ConfigError([{ path: "", rule: "required", message: "the config is empty" }], sourceName);
  if (list.length !== 1) {
    throw new ConfigError(
      [{ path: "", rule: "yaml-syntax", message: `expected exactly one YAML document, found ${list.length}` }],
      sourceName,
    );
  }
  const doc = list[0]!;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError([{ path: "", rule: "yaml-syntax", message: (error as Error).message }], sourceName);
  }
  return validateConfigValue(value, { sourceName, locate: (path) => locate(doc, lineCounter, path) });
}

export interface ValidateOptions {
  sourceName?: string;
  /** Maps a config path to its position in the source, for messages. */
  locate?: (path: PathSegment[]) => { line: number; column: number } | undefined;
}

/** Validate an already-parsed value (e.g. built in code) against the schema and the no-literal-secrets rule. */
export function validateConfigValue(value: unknown, options: ValidateOptions = {}): PlatformConfig {
  const issues: ConfigIssue[] = [];
  const withPos = (path: PathSegment[], what: { rule: string; message: string }): ConfigIssue => {
    const pos = options.locate?.(path);
    return {
      path: formatPath(path),
      rule: what.rule,
      message: what.message,
      ...(pos ? { line: pos.line, column: pos.column } : {}),
    };
  };
  if (value === null || value === undefined) {
    throw new ConfigError([{ path: "", rule: "required", message: "the config is empty" }], options.sourceName);
  }
  walkStrings(value, [], (text, path) => {
    const kind = detectLiteralSecret(text);
    if (kind !== undefined) {
      issues.push(
        withPos(path, {
          rule: "no-literal-secrets",
          message: `this looks like a ${kind}: keep it in a Secret and refer to it as { secret: <name>, key: <key> }`,
        }),
      );
    }
  });
  const result = PlatformConfigSchema.safeParse(value);
  if (!result.success) {
    for (const zodIssue of result.error.issues) {
      for (const mapped of mapZodIssue(zodIssue)) issues.push(withPos(mapped.path, mapped));
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues, options.sourceName);
  return result.data;
}

function walkStrings(value: unknown, path: PathSegment[], visit: (text: string, path: PathSegment[]) => void): void {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      walkStrings(item, [...path, index], visit);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) walkStrings(item, [...path, key], visit);
  }
}

interface MappedIssue {
  path: PathSegment[];
  rule: string;
  message: string;
}

function mapZodIssue(issue: z.core.$ZodIssue): MappedIssue[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
  const rule = (issue as { params?: { rule?: unknown } }).params?.rule;
  const message = issue.message.replace(/^Invalid input: /, "");
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({
        path: [...path, key],
        rule: "unknown-key",
        message: `unknown key ${JSON.stringify(key)}`,
      }));
    case "invalid_type":
      // zod does not report the input: "received undefined" is how a missing field shows.
      if (/received undefined$/.test(issue.message))
        return [{ path, rule: "required", message: `required (${issue.expected})` }];
      return [{ path, rule: "type", message }];
    case "invalid_key": {
      const inner = issue.issues[0]?.message ?? message;
      return [{ path, rule: "name", message: `invalid key: ${inner}` }];
    }
    case "invalid_value":
      return [{ path, rule: typeof rule === "string" ? rule : "enum", message }];
    case "too_small":
    case "too_big":
      return [
        { path, rule: typeof rule === "string" ? rule : issue.origin === "number" ? "range" : "length", message },
      ];
    case "invalid_format":
      return [{ path, rule: typeof rule === "string" ? rule : "pattern", message }];
    case "invalid_union":
      return [{ path, rule: "type", message }];
    default:
      return [{ path, rule: typeof rule === "string" ? rule : "invalid", message }];
  }
}

function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: PathSegment[],
): { line: number; column: number } | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && Array.isArray(node.range)) {
      const pos = lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}
