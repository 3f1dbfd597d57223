import { defineSkill, type SkillDefinition } from "../package/define-skill.ts";
import { createTimeHandlers, type TimeSkillOptions } from "./handlers.ts";
import { manifest } from "./manifest.ts";
import { tools } from "./tools.ts";

const SKILL_NAME = "time";

export function createTimeSkill(options: TimeSkillOptions = {}): SkillDefinition {
  return defineSkill({ name: SKILL_NAME, manifest, tools, handlers: createTimeHandlers(options) });
}
