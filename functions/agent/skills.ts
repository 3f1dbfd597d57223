import { existsSync } from "node:fs";
import { join } from "node:path";
import { binaryOnPath, checkGating, type GatingProbe } from "../../skills/package/gating.ts";
import {
  builtinSkillsDir,
  type DiscoveredSkills,
  discoverSkills,
  loadSkillFolder,
} from "../../skills/package/loader.ts";
import { type SkillPackage, skillDescriptor } from "../../skills/package/skill-package.ts";
import type { SkillResolver } from "./config.ts";

/**
 * Describes a skill from its folder (SKILL.md, manifest, tool declarations; never its handlers), for when the
 * environment carries no KNCLAW_SKILL_CATALOG entry for it: the built-in skills, then the configured skill folders
 * (KNCLAW_SKILL_FOLDERS) in rising precedence, as `knclaw skills list` finds them. The folders' own modules are
 * never imported: a skill from them is instructions only (one with tools runs as its own function, not from here).
 *
 * Gating is enforced here, where the agent runs: a skill whose OpenClaw requirements this process does not meet
 * (its OS, binaries on its PATH, its environment, the knclaw.yaml paths the renderer found set), or
 * that says `disable-model-invocation`, is described as withheld, with the reason.
 */
export function createSkillResolver(folders: readonly string[], probe: GatingProbe = processProbe([])): SkillResolver {
  let fromFolders: Promise<DiscoveredSkills> | undefined;
  return async (name) => {
    fromFolders ??= discoverSkills(folders, { code: false });
    const found = await fromFolders;
    // The folders come after the built-in skills in precedence, so a folder's skill of the same name wins.
    const skill = found.skills.find((candidate) => candidate.name === name) ?? (await builtinSkill(name, found));
    const withheld = withheldReason(skill, probe);
    const described =
      skill.tools.length === 0 ? { name, instructions: skill.instructions, tools: [] } : skillDescriptor(skill);
    return withheld === undefined ? described : { ...described, withheld };
  };
}

/** A built-in skill by name; names are DNS labels, so they cannot leave skills/. Only the named one is loaded. */
async function builtinSkill(name: string, found: DiscoveredSkills): Promise<SkillPackage> {
  const dir = join(builtinSkillsDir(), name);
  if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name) && existsSync(join(dir, "SKILL.md")))
    return loadSkillFolder(dir);
  const failed = found.failures.map((failure) => `${failure.dir}: ${failure.message}`);
  throw new Error(
    `no skill named ${name} in skills/ or the skill folders${failed.length > 0 ? ` (${failed.join("; ")})` : ""}`,
  );
}

function withheldReason(skill: SkillPackage, probe: GatingProbe): string | undefined {
  if (skill.doc.invocation.disableModelInvocation) return "the skill says disable-model-invocation";
  const verdict = checkGating(skill.doc.gating, probe);
  return verdict.eligible ? undefined : `the skill's requirements are not met here: ${verdict.missing.join(", ")}`;
}

/** This process: its environment, OS and PATH, and the config paths the renderer found set. */
export function processProbe(configPathsSet: readonly string[]): GatingProbe {
  const set = new Set(configPathsSet);
  return {
    env: process.env,
    platform: process.platform,
    hasBin: (bin) => binaryOnPath(bin, process.env.PATH),
    hasConfig: (path) => set.has(path),
  };
}
