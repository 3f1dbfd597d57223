import { parseDocument } from "yaml";

/**
 * Split a Markdown document into its YAML frontmatter and body, as SKILL.md files are written by OpenClaw, Claude
 * skills and the AgentSkills convention: an opening `---` on the first line, YAML, a closing `---` (or `...`) line.
 * A document without an opening fence has no frontmatter; one with an opening fence and no closing fence is refused
 * rather than guessed at.
 */
export interface Frontmatter {
  data: Record<string, unknown>;
  body: string;
}

export class FrontmatterError extends Error {
  override name = "FrontmatterError";
}

/** Frontmatter is metadata, not content: anything longer is almost certainly a missing closing fence. */
const MAX_FRONTMATTER_BYTES = 64 * 1024;

export function splitFrontmatter(text: string): Frontmatter {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = source.split(/\r?\n/);
  if (lines[0]?.trimEnd() !== "---") return { data: {}, body: source };
  const close = lines.findIndex((line, index) => index > 0 && (line.trimEnd() === "---" || line.trimEnd() === "..."));
  if (close < 0) throw new FrontmatterError("frontmatter opened with --- but never closed");
  const yamlText = lines.slice(1, close).join("\n");
  if (Buffer.byteLength(yamlText) > MAX_FRONTMATTER_BYTES) throw new FrontmatterError("frontmatter is too large");
  // Plain YAML 1.2 core schema; unknown tags are errors rather than warnings, so data is only ever data.
  const document = parseDocument(yamlText, {
    schema: "core",
    uniqueKeys: true,
    prettyErrors: false,
    logLevel: "silent",
  });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) throw new FrontmatterError(`frontmatter is not valid YAML: ${problem.message.split("\n", 1)[0]}`);
  let parsed: unknown;
  try {
    parsed = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new FrontmatterError(`frontmatter is not valid YAML: ${(error as Error).message.split("\n", 1)[0]}`);
  }
  if (parsed === null || parsed === undefined) parsed = {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new FrontmatterError("frontmatter must be a YAML mapping");
  }
  return { data: parsed as Record<string, unknown>, body: lines.slice(close + 1).join("\n") };
}
