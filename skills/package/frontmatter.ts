import { parseDocument } from "yaml";

/**
 * Split a Markdown document into its frontmatter and body, as SKILL.md files are written by OpenClaw, Claude skills
 * and the AgentSkills convention: an opening `---` line, YAML, a closing line that starts with `---`.
 *
 * Skills in the wild are often not strict YAML (an unquoted `: ` inside a description, `[optional]` argument hints,
 * tabs). OpenClaw's loader (src/markdown/frontmatter.ts in openclaw/openclaw) then falls back to reading `key: value`
 * lines, and so does this one, so that a skill that loads there loads here with the same name and description:
 *
 * - strict YAML (core schema, unique keys) first; if it fails, or is not a mapping, every top-level `key: value`
 *   line is read as a string (an indented block after `key:` is that key's value), and `lenient` says so;
 * - each key also has a string view (`text`), the one OpenClaw's skill fields are read from: numbers and booleans as
 *   written, mappings and lists as JSON, except that a value written inline starting with `{` or `[` is kept as
 *   written (OpenClaw re-reads it as JSON5), and a plain line that YAML misread as a mapping is kept as the line.
 *
 * A document with no opening fence, or an opening fence never closed, has no frontmatter (OpenClaw's reading too).
 */
export interface Frontmatter {
  /** Every key: the YAML value, or in lenient mode the line's string. */
  data: Record<string, unknown>;
  /** Every key as the string OpenClaw's loader reads it (see above); absent keys and nulls are left out. */
  text: Record<string, string>;
  body: string;
  /** The frontmatter was not strict YAML and was read line by line. */
  lenient: boolean;
  /** Why not, when lenient. */
  warnings: string[];
}

class FrontmatterError extends Error {
  override name = "FrontmatterError";
}

/** Frontmatter is metadata, not content: anything longer is almost certainly a missing closing fence. */
const MAX_FRONTMATTER_BYTES = 64 * 1024;

/** A top-level `key: value` line, as OpenClaw's line reader matches it. */
const KEY_LINE = /^([\w-]+):\s*(.*)$/;

export function splitFrontmatter(text: string): Frontmatter {
  const source = (text.startsWith("\uFEFF") ? text.slice(1) : text).replace(/\r\n?/g, "\n");
  const empty = { data: {}, text: {}, body: source, lenient: false, warnings: [] };
  if (!source.startsWith("---")) return empty;
  const close = source.indexOf("\n---", 3);
  if (close < 0) return { ...empty, warnings: ["frontmatter opened with --- but never closed: read as body"] };
  const block = source.slice(source.indexOf("\n") + 1, close + 1);
  const afterClose = source.indexOf("\n", close + 1);
  const body = afterClose < 0 ? "" : source.slice(afterClose + 1);
  if (Buffer.byteLength(block) > MAX_FRONTMATTER_BYTES) throw new FrontmatterError("frontmatter is too large");
  const lines = readKeyLines(block);
  const yaml = readYaml(block);
  if (!yaml.ok) {
    return {
      data: { ...lines },
      text: lines,
      body,
      lenient: true,
      warnings: [`frontmatter is not strict YAML (${yaml.reason}): read as key: value lines, as OpenClaw does`],
    };
  }
  return { data: yaml.data, text: textView(yaml.data, lines), body, lenient: false, warnings: [] };
}

type YamlResult = { ok: true; data: Record<string, unknown> } | { ok: false; reason: string };

function readYaml(block: string): YamlResult {
  // Plain YAML 1.2 core schema: unknown tags stay strings (with a warning from the parser), so data is only ever data.
  const document = parseDocument(block, { schema: "core", uniqueKeys: true, prettyErrors: false, logLevel: "silent" });
  const error = document.errors[0];
  if (error) return { ok: false, reason: error.message.split("\n", 1)[0]! };
  let parsed: unknown;
  try {
    parsed = document.toJS({ maxAliasCount: 100 });
  } catch (caught) {
    return { ok: false, reason: (caught as Error).message.split("\n", 1)[0]! };
  }
  if (parsed === null || parsed === undefined) return { ok: true, data: {} };
  if (typeof parsed !== "object" || Array.isArray(parsed)) return { ok: false, reason: "not a mapping" };
  return { ok: true, data: parsed as Record<string, unknown> };
}

/** Top-level `key: value` lines; `key:` followed by indented lines takes those lines as its value. */
function readKeyLines(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = KEY_LINE.exec(lines[i]!);
    if (!match) continue;
    const key = match[1]!;
    const inline = match[2]!.trim();
    if (inline === "" && /^[ \t]/.test(lines[i + 1] ?? "")) {
      const indented: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1] === "" || /^[ \t]/.test(lines[i + 1]!))) indented.push(lines[++i]!);
      const value = indented.join("\n").trim();
      if (value !== "") out[key] = value;
      continue;
    }
    const value = unquote(inline);
    if (value !== "") out[key] = value;
  }
  return out;
}

function unquote(value: string): string {
  const quoted = value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0];
  return quoted ? value.slice(1, -1) : value;
}

function textView(data: Record<string, unknown>, lines: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(data)) {
    const key = rawKey.trim();
    const text = asText(value);
    if (key !== "" && text !== undefined) out[key] = text;
  }
  for (const [key, line] of Object.entries(lines)) {
    if (line.startsWith("{") || line.startsWith("[")) out[key] = line;
    else if (out[key]?.startsWith("{") && !line.includes("\n") && !/^[|>][+-]?\d*$/.test(line)) out[key] = line;
  }
  return out;
}

function asText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object") return JSON.stringify(value);
  return undefined;
}
