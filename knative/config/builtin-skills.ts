import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { manifest as httpManifest } from "../../skills/http/manifest.ts";
import { tools as httpTools } from "../../skills/http/tools.ts";
import { manifest as kubernetesManifest } from "../../skills/kubernetes/manifest.ts";
import { tools as kubernetesTools } from "../../skills/kubernetes/tools.ts";
import { manifest as memoryManifest } from "../../skills/memory/manifest.ts";
import { tools as memoryTools } from "../../skills/memory/tools.ts";
import type { SkillManifest } from "../../skills/package/manifest.ts";
import { parseSkillDoc } from "../../skills/package/skill-doc.ts";
import {
  assembleSkill,
  parseManifest,
  type SkillPackage,
  skillDescriptor,
} from "../../skills/package/skill-package.ts";
import type { ToolDeclaration } from "../../skills/package/tool.ts";
import type { SkillDescriptor } from "../../skills/runtime/descriptor.ts";
import { manifest as timeManifest } from "../../skills/time/manifest.ts";
import { tools as timeTools } from "../../skills/time/tools.ts";

/**
 * The built-in skills, by name: manifests and tool declarations imported statically, so the renderer (which is pure
 * and synchronous) and bundled functions know them without reading skill folders at run time. Handlers are not
 * imported here. The folders remain the source: `knclaw skills list` and the tests load them from disk and check
 * they agree with this table.
 */
export interface BuiltinSkill {
  name: string;
  manifest: SkillManifest;
  tools: readonly ToolDeclaration[];
}

const TABLE: Record<string, { manifest: unknown; tools: readonly ToolDeclaration[] }> = {
  http: { manifest: httpManifest, tools: httpTools },
  kubernetes: { manifest: kubernetesManifest, tools: kubernetesTools },
  memory: { manifest: memoryManifest, tools: memoryTools },
  time: { manifest: timeManifest, tools: timeTools },
};

export const BUILTIN_SKILL_NAMES: readonly string[] = Object.keys(TABLE).sort();

const parsed = new Map<string, BuiltinSkill>();

export function builtinSkill(name: string): BuiltinSkill | undefined {
  if (!Object.hasOwn(TABLE, name)) return undefined;
  let skill = parsed.get(name);
  if (!skill) {
    const entry = TABLE[name]!;
    skill = { name, manifest: parseManifest(name, entry.manifest), tools: entry.tools };
    parsed.set(name, skill);
  }
  return skill;
}

/**
 * A built-in skill as a package, synchronously: the static table plus its SKILL.md read from the checkout (or
 * installed package). For the renderer and the CLI, which run where the skill folders are; a bundled function has
 * no skill folders next to it and should be given descriptors (KNCLAW_SKILL_CATALOG) instead.
 */
function builtinSkillPackage(name: string): SkillPackage | undefined {
  const skill = builtinSkill(name);
  if (!skill) return undefined;
  const text = readFileSync(new URL(`../../skills/${name}/SKILL.md`, import.meta.url), "utf8");
  const assembled = assembleSkill(parseSkillDoc(text, name), skill.manifest, skill.tools);
  assembled.dir = fileURLToPath(new URL(`../../skills/${name}`, import.meta.url));
  return assembled;
}

/** What an agent is told about a built-in skill: tools' JSON Schemas and flags, and the SKILL.md instructions. */
export function builtinSkillDescriptor(name: string): SkillDescriptor | undefined {
  const skill = builtinSkillPackage(name);
  return skill ? skillDescriptor(skill) : undefined;
}
