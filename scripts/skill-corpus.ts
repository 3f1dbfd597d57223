/**
 * Measures knclaw's skill loading against OpenClaw's over a folder of public skill folders:
 *
 *   npm run skills:corpus -- <dir> [--json]
 *
 * For every skill folder under <dir> (`<slug>/SKILL.md`, or ClawHub's `<owner>/<slug>/SKILL.md`), it loads the folder
 * with knclaw's loader (SKILL.md only: no module of the folder is imported) and computes, independently, the name,
 * description and gating OpenClaw's loader gives it. It prints every difference with its reason, the shares, and as
 * its last line one JSON object. Exit 1 when the share of OpenClaw-loadable folders knclaw loads identically is
 * under 98 %.
 *
 * The reference below is written from reading OpenClaw's source (openclaw/openclaw, 2026): src/markdown/frontmatter.ts
 * (YAML first, else `key: value` lines, then the merge of the two), src/agents/skills/local-loader.ts (name from the
 * frontmatter or the folder, a description required, only `SKILL.md`), src/shared/frontmatter.ts and
 * src/agents/skills/frontmatter.ts (metadata as JSON5, `openclaw` then the legacy `clawdbot` block, lists as arrays or
 * comma-separated strings, `primaryEnv` and `always` only when of the right type), src/compat/legacy-names.ts. It is
 * deliberately separate code from skills/package/: it is the oracle the loader is judged against.
 *
 * The corpus measured (skills/package/README.md, "OpenClaw compatibility"): github.com/openclaw/skills at commit
 * 3a5f649f604cb32910dc9ddb81d9be873b2c3d42, its `skills/<owner>/<slug>/` folders (SKILL.md or skill.md files only):
 *
 *   git clone https://github.com/openclaw/skills && cd skills && git checkout 3a5f649f604c
 *   npm run skills:corpus -- ./skills
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import JSON5 from "json5";
import YAML from "yaml";
import { loadSkillFolder } from "../skills/package/loader.ts";
import type { SkillPackage } from "../skills/package/skill-package.ts";

const TARGET = 0.98;
const MAX_SKILL_FILE_BYTES = 256_000;

interface Gating {
  always: boolean | undefined;
  os: string[];
  primaryEnv: string | undefined;
  bins: string[];
  anyBins: string[];
  env: string[];
  config: string[];
}

type Reference =
  | { loads: true; name: string; description: string; gating: Gating | undefined }
  | { loads: false; why: string };

// --- OpenClaw's reading, as the reference --------------------------------------------------------------------------

function referenceFrontmatter(content: string): Record<string, string> {
  const normalized = content.replace(/\r\n/g, "\n").replace(/\r/g, "\n");
  if (!normalized.startsWith("---")) return {};
  const end = normalized.indexOf("\n---", 3);
  if (end === -1) return {};
  const block = normalized.slice(4, end);
  const lines = referenceLines(block);
  let yaml: Record<string, string> | null = null;
  try {
    const parsed: unknown = YAML.parse(block, { schema: "core", logLevel: "silent" });
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      yaml = {};
      for (const [rawKey, value] of Object.entries(parsed)) {
        const key = rawKey.trim();
        let text: string | undefined;
        if (typeof value === "string") text = value.trim();
        else if (typeof value === "number" || typeof value === "boolean") text = String(value);
        else if (value !== null && typeof value === "object") text = JSON.stringify(value);
        if (key && text !== undefined) yaml[key] = text;
      }
    }
  } catch {
    yaml = null;
  }
  if (yaml === null) return lines;
  for (const [key, value] of Object.entries(lines)) {
    if (value.startsWith("{") || value.startsWith("[")) yaml[key] = value;
    else if (yaml[key]?.startsWith("{") && !value.includes("\n") && !/^[|>][+-]?\d*$/.test(value)) yaml[key] = value;
  }
  return yaml;
}

function referenceLines(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = block.split("\n");
  let i = 0;
  while (i < lines.length) {
    const match = lines[i]!.match(/^([\w-]+):\s*(.*)$/);
    if (!match) {
      i++;
      continue;
    }
    const key = match[1]!;
    const inline = match[2]!.trim();
    const next = lines[i + 1];
    if (!inline && next !== undefined && (next.startsWith(" ") || next.startsWith("\t"))) {
      let j = i + 1;
      const valueLines: string[] = [];
      while (j < lines.length && !(lines[j]!.length > 0 && !lines[j]!.startsWith(" ") && !lines[j]!.startsWith("\t"))) {
        valueLines.push(lines[j]!);
        j++;
      }
      const value = valueLines.join("\n").trim();
      if (value) out[key] = value;
      i = j;
      continue;
    }
    const quoted = (inline.startsWith('"') && inline.endsWith('"')) || (inline.startsWith("'") && inline.endsWith("'"));
    const value = quoted ? inline.slice(1, -1) : inline;
    if (value) out[key] = value;
    i++;
  }
  return out;
}

function referenceList(input: unknown): string[] {
  if (Array.isArray(input)) return input.map((value) => String(value).trim()).filter(Boolean);
  if (typeof input === "string")
    return input
      .split(",")
      .map((value) => value.trim())
      .filter(Boolean);
  return [];
}

function referenceGating(frontmatter: Record<string, string>): Gating | undefined {
  const raw = frontmatter.metadata;
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON5.parse(raw);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== "object") return undefined;
  let block: Record<string, unknown> | undefined;
  for (const key of ["openclaw", "clawdbot"]) {
    const candidate = (parsed as Record<string, unknown>)[key];
    if (candidate && typeof candidate === "object") {
      block = candidate as Record<string, unknown>;
      break;
    }
  }
  if (!block) return undefined;
  const requires =
    typeof block.requires === "object" && block.requires !== null ? (block.requires as Record<string, unknown>) : {};
  const config = Array.isArray(requires.config)
    ? requires.config.flatMap((entry) => (typeof entry === "string" && entry.trim() ? [entry.trim()] : []))
    : referenceList(requires.config);
  return {
    always: typeof block.always === "boolean" ? block.always : undefined,
    os: referenceList(block.os),
    primaryEnv: typeof block.primaryEnv === "string" ? block.primaryEnv : undefined,
    bins: referenceList(requires.bins),
    anyBins: referenceList(requires.anyBins),
    env: referenceList(requires.env),
    config,
  };
}

function reference(dir: string): Reference {
  // Only SKILL.md, by its exact name (what a case-sensitive file system gives OpenClaw on Linux).
  if (!readdirSync(dir).includes("SKILL.md"))
    return { loads: false, why: "no SKILL.md (OpenClaw reads no other name)" };
  const file = join(dir, "SKILL.md");
  if (statSync(file).size > MAX_SKILL_FILE_BYTES) return { loads: false, why: "SKILL.md over 256000 bytes" };
  const frontmatter = referenceFrontmatter(readFileSync(file, "utf8"));
  const name = frontmatter.name?.trim() || basename(dir).trim();
  const description = frontmatter.description?.trim();
  if (!name || !description) return { loads: false, why: "no description" };
  return { loads: true, name, description, gating: referenceGating(frontmatter) };
}

// --- knclaw's reading -----------------------------------------------------------------------------------------------

function knclawGating(skill: SkillPackage): Gating | undefined {
  const gating = skill.doc.gating;
  if (!gating) return undefined;
  return {
    always: gating.always,
    os: gating.os ?? [],
    primaryEnv: gating.primaryEnv,
    bins: gating.requires?.bins ?? [],
    anyBins: gating.requires?.anyBins ?? [],
    env: gating.requires?.env ?? [],
    config: gating.requires?.config ?? [],
  };
}

// --- the walk and the comparison ------------------------------------------------------------------------------------

function hasSkillFile(dir: string): boolean {
  return existsSync(join(dir, "SKILL.md")) || existsSync(join(dir, "skill.md"));
}

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => join(dir, entry.name))
    .sort();
}

function corpusFolders(root: string): string[] {
  return folders(root).flatMap((dir) => (hasSkillFile(dir) ? [dir] : folders(dir).filter(hasSkillFile)));
}

interface Difference {
  folder: string;
  field: string;
  knclaw: unknown;
  openclaw: unknown;
  reason: string;
}

function explain(field: string, knclaw: SkillPackage | Error, expected: Reference): string {
  if (knclaw instanceof Error) return `knclaw refuses the folder: ${knclaw.message}`;
  if (!expected.loads) {
    if (expected.why.startsWith("no SKILL.md"))
      return "only a lowercase skill.md: knclaw reads it, OpenClaw on a case-sensitive file system does not (on macOS it does)";
    if (expected.why === "no description")
      return "no description: OpenClaw skips the skill; knclaw loads it with the first line of its instructions (and warns)";
    return `OpenClaw skips it (${expected.why}); knclaw loads it`;
  }
  if (field === "description" && knclaw.description.length === 4096 && expected.description.length > 4096)
    return "description over 4096 characters: knclaw cuts it (and warns)";
  return "unexplained";
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const root = args.find((arg) => !arg.startsWith("--"));
  if (root === undefined) {
    process.stderr.write("usage: npm run skills:corpus -- <folder of skill folders> [--json]\n");
    process.exitCode = 2;
    return;
  }
  const dirs = corpusFolders(resolve(root));
  const differences: Difference[] = [];
  let openclawLoads = 0;
  let knclawLoads = 0;
  let identical = 0;
  let agree = 0;
  for (const dir of dirs) {
    const folder = relative(resolve(root), dir);
    const expected = reference(dir);
    const knclaw = await loadSkillFolder(dir, { code: false }).catch((error: Error) => error);
    if (expected.loads) openclawLoads++;
    if (!(knclaw instanceof Error)) knclawLoads++;
    const diffs: Difference[] = [];
    const differ = (field: string, ours: unknown, theirs: unknown) => {
      if (JSON.stringify(ours) !== JSON.stringify(theirs))
        diffs.push({
          folder,
          field,
          knclaw: ours,
          openclaw: theirs,
          reason: explain(field, knclaw as never, expected),
        });
    };
    if (knclaw instanceof Error || !expected.loads) {
      if (knclaw instanceof Error && !expected.loads) agree++;
      else differ("loads", !(knclaw instanceof Error), expected.loads);
    } else {
      differ("name", knclaw.name, expected.name);
      differ("description", knclaw.description, expected.description);
      differ("gating", knclawGating(knclaw), expected.gating);
      if (diffs.length === 0) {
        identical++;
        agree++;
      }
    }
    differences.push(...diffs);
  }
  const share = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 10000) / 10000);
  const summary = {
    folders: dirs.length,
    openclawLoads,
    knclawLoads,
    identical,
    // Of the folders OpenClaw loads, the share knclaw loads with the same name, description and gating.
    identicalShare: share(identical, openclawLoads),
    // Of all folders, the share where knclaw does what OpenClaw does (loads identically, or both skip).
    agreementShare: share(agree, dirs.length),
    knclawLoadShare: share(knclawLoads, dirs.length),
    differences: differences.length,
    unexplained: differences.filter((d) => d.reason === "unexplained").length,
    reasons: Object.fromEntries(
      [...Map.groupBy(differences, (d) => d.reason.split(":")[0]!).entries()].map(([k, v]) => [k, v.length]),
    ),
  };
  const json = args.includes("--json");
  if (json) process.stdout.write(`${JSON.stringify({ ...summary, list: differences }, null, 2)}\n`);
  else {
    for (const d of differences) {
      const show = (value: unknown) => JSON.stringify(value)?.slice(0, 160);
      process.stdout.write(
        `${d.folder}: ${d.field}: knclaw ${show(d.knclaw)}, OpenClaw ${show(d.openclaw)}: ${d.reason}\n`,
      );
    }
    process.stdout.write(
      `${dirs.length} folders; OpenClaw loads ${openclawLoads}, knclaw loads ${knclawLoads}; ` +
        `${identical} of OpenClaw's ${openclawLoads} load identically in knclaw (${(summary.identicalShare * 100).toFixed(2)} %); ` +
        `knclaw agrees with OpenClaw on ${(summary.agreementShare * 100).toFixed(2)} % of all folders\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.identicalShare < TARGET) process.exitCode = 1;
}

await main();
