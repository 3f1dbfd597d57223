import { type Dirent, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseSkillDoc, SKILL_FILE_NAMES, type SkillDoc, SkillDocError, substituteBaseDir } from "./skill-doc.ts";
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

export interface LoadOptions {
  /**
   * Import the folder's manifest.ts and tools.ts (default true). False reads SKILL.md only, for folders whose code
   * is not to be run here (a downloaded skill collection being surveyed): a skill with tools then loads as
   * instructions only.
   */
  code?: boolean;
}

/** A folder's SKILL.md, read and parsed, `{baseDir}` replaced by the folder; no module of the folder is imported. */
function readSkillDoc(dir: string): SkillDoc {
  const folder = resolve(dir);
  const skillFile = findSkillFile(folder);
  if (!skillFile) throw new SkillPackageError(`${folder}: no SKILL.md`);
  if (statSync(skillFile).size > MAX_SKILL_FILE_BYTES) throw new SkillPackageError(`${skillFile}: larger than 256 KiB`);
  try {
    const doc = parseSkillDoc(readFileSync(skillFile, "utf8"), basename(folder));
    doc.instructions = substituteBaseDir(doc.instructions, folder);
    return doc;
  } catch (error) {
    if (error instanceof SkillDocError) throw new SkillPackageError(`${skillFile}: ${error.message}`);
    throw error;
  }
}

export async function loadSkillFolder(dir: string, options: LoadOptions = {}): Promise<SkillPackage> {
  const folder = resolve(dir);
  const doc = readSkillDoc(folder);
  const code = options.code !== false;
  const manifest = code ? await importExport(folder, MANIFEST_MODULE, "manifest") : undefined;
  const tools = code ? await importExport(folder, TOOLS_MODULE, "tools") : undefined;
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
  /** Folders that looked like skills but failed to load, with why. One bad folder never fails the others. */
  failures: Array<{ dir: string; message: string }>;
  /** Skills of an earlier root that a later root's skill of the same name replaced. */
  overridden: Array<{ name: string; dir: string; by: string }>;
}

/**
 * Every skill under each root, roots in rising precedence: a skill of a later root replaces an earlier root's skill
 * of the same name (OpenClaw's rule: bundled, then extra folders, then the workspace, the last one wins), and the
 * replaced one is reported. Within one root a name seen twice is a failure: which one would run is exactly the
 * ambiguity a deployer must not have to guess about.
 *
 * A root is a skill folder itself, or holds skill folders, or groups them one level deeper as ClawHub installs do
 * (`<owner>/<slug>/SKILL.md`): a child folder without a SKILL.md is searched for skill folders in turn. A root that
 * holds `skills/*\/SKILL.md` (a repository checkout) is read from its `skills/` folder.
 */
export async function discoverSkills(roots: readonly string[], options: LoadOptions = {}): Promise<DiscoveredSkills> {
  const result: DiscoveredSkills = { skills: [], failures: [], overridden: [] };
  const byName = new Map<string, { skill: SkillPackage; root: number }>();
  for (const [index, root] of roots.entries()) {
    const abs = resolve(root);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      result.failures.push({ dir: abs, message: "does not exist or is not a folder" });
      continue;
    }
    for (const dir of skillFolders(abs)) {
      let skill: SkillPackage;
      try {
        skill = await loadSkillFolder(dir, options);
      } catch (error) {
        result.failures.push({ dir, message: (error as Error).message });
        continue;
      }
      const previous = byName.get(skill.name);
      if (previous?.root === index) {
        result.failures.push({ dir, message: `skill ${skill.name} is already loaded from ${previous.skill.dir}` });
        continue;
      }
      if (previous !== undefined) {
        result.overridden.push({ name: skill.name, dir: previous.skill.dir ?? "", by: dir });
        result.skills.splice(result.skills.indexOf(previous.skill), 1);
      }
      byName.set(skill.name, { skill, root: index });
      result.skills.push(skill);
    }
  }
  return result;
}

/** A skill's SKILL.md and the folder it was read from. */
export interface FoundSkillDoc {
  doc: SkillDoc;
  dir: string;
}

/**
 * The SKILL.md of every skill under the roots by name, with its folder, a later root's winning (discoverSkills'
 * rule), synchronously and without importing any module: for the renderer, which is synchronous. Folders that fail
 * to load are left out.
 */
export function discoverSkillDocs(roots: readonly string[]): Map<string, FoundSkillDoc> {
  const docs = new Map<string, FoundSkillDoc>();
  for (const root of roots) {
    const abs = resolve(root);
    if (!isFolder(abs)) continue;
    const inRoot = new Map<string, FoundSkillDoc>();
    for (const dir of skillFolders(abs)) {
      try {
        const doc = readSkillDoc(dir);
        if (!inRoot.has(doc.name)) inRoot.set(doc.name, { doc, dir });
      } catch {
        // reported by discoverSkills (knclaw skills list, the agent's start): here a broken folder is just absent
      }
    }
    for (const [name, doc] of inRoot) docs.set(name, doc);
  }
  return docs;
}

/** The skill folders of one root, sorted: the root itself, its children, or its grandchildren under a group. */
function skillFolders(root: string): string[] {
  if (findSkillFile(root)) return [root];
  const nested = join(root, "skills");
  const base = existsSync(nested) && childFolders(nested).some((dir) => findSkillFile(dir)) ? nested : root;
  return childFolders(base).flatMap((dir) =>
    findSkillFile(dir) ? [dir] : childFolders(dir).filter((child) => findSkillFile(child) !== undefined),
  );
}

function childFolders(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => !NOT_SKILLS.has(entry.name) && !entry.name.startsWith(".") && isFolder(join(dir, entry.name)))
    .map((entry) => join(dir, entry.name))
    .sort();
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
