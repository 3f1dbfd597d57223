import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseSkillDoc, SKILL_FILE_NAMES, SkillDocError } from "./skill-doc.ts";
import { assembleSkill, type SkillPackage, SkillPackageError } from "./skill-package.ts";

/**
 * Skills on disk. A skill folder holds `SKILL.md` and, when it has tools, `manifest.ts` (exporting `manifest`) and
 * `tools.ts` (exporting `tools`). Only those two modules are imported: loading a skill to describe it never runs its
 * handlers or opens connections.
 */
const MANIFEST_MODULE = "manifest.ts";
const TOOLS_MODULE = "tools.ts";

/** Folders under skills/ that are shared code, not skills. */
const NOT_SKILLS = new Set(["package", "runtime", "node_modules"]);

/** SKILL.md is prose for a model's context window: anything this large is a mistake or an attack on the context. */
const MAX_SKILL_FILE_BYTES = 256 * 1024;

export function builtinSkillsDir(): string {
  return resolve(fileURLToPath(new URL("..", import.meta.url)));
}

function findSkillFile(dir: string): string | undefined {
  for (const name of SKILL_FILE_NAMES) {
    const path = join(dir, name);
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  return undefined;
}

export async function loadSkillFolder(dir: string): Promise<SkillPackage> {
  const folder = resolve(dir);
  const skillFile = findSkillFile(folder);
  if (!skillFile) throw new SkillPackageError(`${folder}: no SKILL.md`);
  if (statSync(skillFile).size > MAX_SKILL_FILE_BYTES) throw new SkillPackageError(`${skillFile}: larger than 256 KiB`);
  let doc: ReturnType<typeof parseSkillDoc>;
  try {
    doc = parseSkillDoc(readFileSync(skillFile, "utf8"), basename(folder));
  } catch (error) {
    if (error instanceof SkillDocError) throw new SkillPackageError(`${skillFile}: ${error.message}`);
    throw error;
  }
  const manifest = await importExport(folder, MANIFEST_MODULE, "manifest");
  const tools = await importExport(folder, TOOLS_MODULE, "tools");
  if (tools !== undefined && !Array.isArray(tools))
    throw new SkillPackageError(`${folder}/${TOOLS_MODULE}: tools is not an array`);
  const skill = assembleSkill(doc, manifest, tools as unknown[] | undefined as never);
  skill.dir = folder;
  return skill;
}

async function importExport(folder: string, file: string, exportName: string): Promise<unknown> {
  const path = join(folder, file);
  if (!existsSync(path)) return undefined;
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  if (!(exportName in module)) throw new SkillPackageError(`${path}: does not export ${exportName}`);
  return module[exportName];
}

export interface DiscoveredSkills {
  skills: SkillPackage[];
  /** Folders that looked like skills but failed to load, with why. */
  failures: Array<{ dir: string; message: string }>;
}

/**
 * Every skill folder directly under each root (a root that is itself a skill folder counts as one). Later roots do
 * not override earlier ones: a name seen twice is a failure, because which one would run is exactly the ambiguity
 * a deployer must not have to guess about.
 */
export async function discoverSkills(roots: readonly string[]): Promise<DiscoveredSkills> {
  const result: DiscoveredSkills = { skills: [], failures: [] };
  const seen = new Map<string, string>();
  for (const root of roots) {
    const abs = resolve(root);
    if (!existsSync(abs)) {
      result.failures.push({ dir: abs, message: "does not exist" });
      continue;
    }
    const folders = findSkillFile(abs)
      ? [abs]
      : readdirSync(abs, { withFileTypes: true })
          .filter((entry) => entry.isDirectory() && !NOT_SKILLS.has(entry.name) && !entry.name.startsWith("."))
          .map((entry) => join(abs, entry.name))
          .filter((dir) => findSkillFile(dir) !== undefined)
          .sort();
    for (const dir of folders) {
      try {
        const skill = await loadSkillFolder(dir);
        const previous = seen.get(skill.name);
        if (previous !== undefined) {
          result.failures.push({ dir, message: `skill ${skill.name} is already loaded from ${previous}` });
          continue;
        }
        seen.set(skill.name, dir);
        result.skills.push(skill);
      } catch (error) {
        result.failures.push({ dir, message: (error as Error).message });
      }
    }
  }
  return result;
}
