import { z } from "zod";
import { splitFrontmatter } from "./frontmatter.ts";

/**
 * SKILL.md: YAML frontmatter (`name`, `description`, optional metadata) followed by instructions for the model.
 * Unknown frontmatter keys are kept, not refused: skill folders written for OpenClaw, Claude or other AgentSkills
 * runtimes carry keys of their own (`license`, `allowed-tools`, `homepage`, `user-invocable`, ...) and must still load.
 */
export const SKILL_FILE_NAMES = ["SKILL.md", "skill.md"] as const;

/** Names as the AgentSkills convention writes them; knclaw skills with tools are further held to a DNS label. */
const SkillDocName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '-', '_' or '.', at most 64 characters");

const stringList = z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(z.string()));

/** OpenClaw's load-time gating (`metadata.openclaw`, aliases `clawdbot` and `clawdis`). */
export const SkillGating = z
  .object({
    requires: z
      .object({
        bins: stringList.optional(),
        anyBins: stringList.optional(),
        env: stringList.optional(),
        config: stringList.optional(),
      })
      .partial()
      .passthrough()
      .optional(),
    os: stringList.optional(),
    always: z.boolean().optional(),
    primaryEnv: z.string().optional(),
    emoji: z.string().optional(),
  })
  .passthrough();
export type SkillGating = z.infer<typeof SkillGating>;

const GATING_KEYS = ["openclaw", "clawdbot", "clawdis"] as const;

const Frontmatter = z
  .object({
    name: SkillDocName.optional(),
    description: z.string().max(4096).optional(),
    metadata: z.unknown().optional(),
  })
  .passthrough();

export interface SkillDoc {
  name: string;
  description: string;
  /** The Markdown body: instructions given to the model when the skill is enabled. */
  instructions: string;
  /** Every frontmatter key as written. */
  frontmatter: Record<string, unknown>;
  /** Parsed `metadata` (a mapping, or the single-line JSON string OpenClaw writes). */
  metadata: Record<string, unknown>;
  gating?: SkillGating;
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
  const parsed = Frontmatter.safeParse(split.data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SkillDocError(`frontmatter ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const warnings: string[] = [];
  const name = parsed.data.name ?? fallbackName;
  if (name === undefined) throw new SkillDocError("frontmatter has no name and none can be derived");
  const nameCheck = SkillDocName.safeParse(name);
  if (!nameCheck.success)
    throw new SkillDocError(`skill name ${JSON.stringify(name)}: ${nameCheck.error.issues[0]!.message}`);
  if (parsed.data.name === undefined) warnings.push("frontmatter has no name: using the folder name");
  const instructions = split.body.trim();
  let description = parsed.data.description?.trim() ?? "";
  if (description === "") {
    warnings.push("frontmatter has no description: the model sees the first line of the instructions instead");
    description = firstProseLine(instructions);
  }
  const metadata = readMetadata(parsed.data.metadata, warnings);
  const gating = readGating(metadata, warnings);
  const doc: SkillDoc = { name, description, instructions, frontmatter: split.data, metadata, warnings };
  if (gating) doc.gating = gating;
  return doc;
}

function readMetadata(value: unknown, warnings: string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === "string") {
    try {
      const json: unknown = JSON.parse(value);
      if (json && typeof json === "object" && !Array.isArray(json)) return json as Record<string, unknown>;
    } catch {
      // fall through to the warning: metadata is advisory, a bad one must not stop the instructions from loading
    }
    warnings.push("metadata is a string that is not a JSON object: ignored");
    return {};
  }
  if (typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  warnings.push("metadata is not a mapping: ignored");
  return {};
}

function readGating(metadata: Record<string, unknown>, warnings: string[]): SkillGating | undefined {
  for (const key of GATING_KEYS) {
    if (metadata[key] === undefined) continue;
    const parsed = SkillGating.safeParse(metadata[key]);
    if (parsed.success) return parsed.data;
    warnings.push(`metadata.${key} is malformed: gating ignored`);
    return undefined;
  }
  return undefined;
}

function firstProseLine(markdown: string): string {
  for (const line of markdown.split("\n")) {
    const text = line.replace(/^#+\s*/, "").trim();
    if (text !== "") return text.slice(0, 300);
  }
  return "";
}

export interface GatingProbe {
  env: Readonly<Record<string, string | undefined>>;
  /** `process.platform`-style name: knclaw functions run on linux. */
  platform: string;
  /** Whether an executable is on PATH; knclaw skills run in their own images, so callers usually answer false. */
  hasBin?: (name: string) => boolean;
  /** Whether a config path is set (OpenClaw's `requires.config`). */
  hasConfig?: (path: string) => boolean;
}

export interface GatingVerdict {
  eligible: boolean;
  /** Human-readable reasons, e.g. `env GITHUB_TOKEN`, `bin gh`, `os darwin`. */
  missing: string[];
}

/** Evaluate OpenClaw-style gating: a skill whose requirements are unmet is not offered to the model. */
export function checkGating(gating: SkillGating | undefined, probe: GatingProbe): GatingVerdict {
  if (!gating || gating.always === true) return { eligible: true, missing: [] };
  const missing: string[] = [];
  if (gating.os && gating.os.length > 0 && !gating.os.includes(probe.platform))
    missing.push(`os ${gating.os.join("|")}`);
  for (const name of gating.requires?.env ?? []) {
    if (!probe.env[name]) missing.push(`env ${name}`);
  }
  const hasBin = probe.hasBin ?? (() => false);
  for (const bin of gating.requires?.bins ?? []) {
    if (!hasBin(bin)) missing.push(`bin ${bin}`);
  }
  const anyBins = gating.requires?.anyBins ?? [];
  if (anyBins.length > 0 && !anyBins.some(hasBin)) missing.push(`one of bins ${anyBins.join("|")}`);
  const hasConfig = probe.hasConfig ?? (() => false);
  for (const path of gating.requires?.config ?? []) {
    if (!hasConfig(path)) missing.push(`config ${path}`);
  }
  return { eligible: missing.length === 0, missing };
}
