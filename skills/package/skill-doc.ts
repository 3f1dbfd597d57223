import JSON5 from "json5";
import { splitFrontmatter } from "./frontmatter.ts";
import { readGating, type SkillGating } from "./gating.ts";

/**
 * SKILL.md: frontmatter (`name`, `description`, optional metadata and flags) followed by instructions for the model.
 * Read the way OpenClaw reads it (src/agents/skills/local-loader.ts in openclaw/openclaw), so that a skill folder
 * written for OpenClaw or ClawHub loads here with the same name, description and gating:
 *
 * - frontmatter that is not strict YAML is read as `key: value` lines (frontmatter.ts), with a warning;
 * - `name` is the frontmatter's, else the folder's name. Any display name is kept (spaces, capitals) with a warning
 *   when it is not an AgentSkills name; only names that could be mistaken for paths or that carry control characters
 *   are refused. A skill with tools is further held to a DNS label (skill-package.ts);
 * - `metadata` is JSON5 (a mapping written in YAML is re-read as JSON); its gating is read field by field (gating.ts);
 * - `user-invocable` and `disable-model-invocation` are read as OpenClaw reads them.
 *
 * Unknown frontmatter keys are kept, not refused: skills written for other runtimes carry keys of their own.
 */
export const SKILL_FILE_NAMES = ["SKILL.md", "skill.md"] as const;

/** The AgentSkills convention's names; others still load, with a warning. */
const AGENT_SKILLS_NAME = /^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/;
const MAX_NAME_LENGTH = 128;
const MAX_DESCRIPTION_LENGTH = 4096;

interface SkillInvocation {
  /** OpenClaw offers the skill as a slash command (default true). knclaw has no skill commands: listed only. */
  userInvocable: boolean;
  /** The model is not told about the skill (default false): knclaw keeps it out of the model's prompt. */
  disableModelInvocation: boolean;
}

export interface SkillDoc {
  name: string;
  description: string;
  /** The Markdown body: instructions given to the model when the skill is enabled. */
  instructions: string;
  /** Every frontmatter key as written (strings when the frontmatter was read line by line). */
  frontmatter: Record<string, unknown>;
  /** Parsed `metadata` (a mapping, or the JSON5 text OpenClaw writes on one line). */
  metadata: Record<string, unknown>;
  gating?: SkillGating;
  invocation: SkillInvocation;
  warnings: string[];
}

export class SkillDocError extends Error {
  override name = "SkillDocError";
}

/**
 * Parse a SKILL.md. `fallbackName` (the folder name) is used when the frontmatter has no `name`, as OpenClaw does.
 */
export function parseSkillDoc(text: string, fallbackName?: string): SkillDoc {
  let split: ReturnType<typeof splitFrontmatter>;
  try {
    split = splitFrontmatter(text);
  } catch (error) {
    throw new SkillDocError((error as Error).message);
  }
  const warnings = [...split.warnings];
  const fields = split.text;
  const name = fields.name?.trim() || fallbackName?.trim() || "";
  if (name === "") throw new SkillDocError("frontmatter has no name and none can be derived");
  checkName(name, warnings);
  if (!fields.name?.trim()) warnings.push("frontmatter has no name: using the folder name");
  const instructions = split.body.trim();
  let description = fields.description?.trim() ?? "";
  // The model chooses skills by their descriptions; OpenClaw skips a skill without one, and so does knclaw.
  if (description === "") throw new SkillDocError("frontmatter has no description (OpenClaw skips such a skill too)");
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    warnings.push(`description is longer than ${MAX_DESCRIPTION_LENGTH} characters: cut`);
    description = description.slice(0, MAX_DESCRIPTION_LENGTH);
  }
  const metadata = readMetadata(fields.metadata, warnings);
  const gating = readGating(metadata, warnings);
  const invocation: SkillInvocation = {
    userInvocable: readFlag(fields["user-invocable"], true, "user-invocable", warnings),
    disableModelInvocation: readFlag(fields["disable-model-invocation"], false, "disable-model-invocation", warnings),
  };
  const doc: SkillDoc = { name, description, instructions, frontmatter: split.data, metadata, invocation, warnings };
  if (gating) doc.gating = gating;
  return doc;
}

function checkName(name: string, warnings: string[]): void {
  if (name.length > MAX_NAME_LENGTH) throw new SkillDocError(`skill name is longer than ${MAX_NAME_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new SkillDocError("skill name has control characters");
  if (name.includes("/") || name === "." || name === "..")
    throw new SkillDocError(`skill name ${JSON.stringify(name)} looks like a path`);
  if (!AGENT_SKILLS_NAME.test(name))
    warnings.push(
      `skill name ${JSON.stringify(name)} is a display name, not an AgentSkills name (lowercase letters, digits, '-'): ` +
        "it cannot run as a function",
    );
}

function readMetadata(text: string | undefined, warnings: string[]): Record<string, unknown> {
  if (text === undefined || text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch {
    // Metadata is advisory: a bad one must not stop the instructions from loading (OpenClaw's reading too).
    warnings.push("metadata is not a JSON5 object: ignored, so the skill is not gated");
    return {};
  }
  if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  warnings.push("metadata is not a mapping: ignored");
  return {};
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

function readFlag(text: string | undefined, fallback: boolean, key: string, warnings: string[]): boolean {
  if (text === undefined) return fallback;
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  warnings.push(`${key} is not a boolean: ${fallback} assumed`);
  return fallback;
}

/**
 * `{baseDir}` in a skill's instructions names the skill's own folder (OpenClaw's convention, so a skill can point
 * the model at its scripts and references): replaced with the folder the skill was loaded from.
 */
export function substituteBaseDir(instructions: string, dir: string): string {
  return instructions.replaceAll("{baseDir}", dir);
}
