import { join } from "node:path";
import { builtinSkillsDir, loadSkillFolder } from "../../skills/package/loader.ts";
import { skillDescriptor } from "../../skills/package/skill-package.ts";
import type { SkillResolver } from "./config.ts";

/**
 * Describes a built-in skill from its folder (SKILL.md, manifest, tool declarations; never its handlers), for when
 * the environment carries no KNCLAW_SKILL_CATALOG. Skill names are DNS labels, so they cannot leave skills/.
 */
export const builtinSkillResolver: SkillResolver = async (name) => {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new Error("not a skill name");
  const skill = await loadSkillFolder(join(builtinSkillsDir(), name));
  if (skill.tools.length === 0) return { name, instructions: skill.instructions, tools: [] };
  return skillDescriptor(skill);
};
