import { manifest as httpManifest } from "../http/manifest.ts";
import { tools as httpTools } from "../http/tools.ts";
import { manifest as kubernetesManifest } from "../kubernetes/manifest.ts";
import { tools as kubernetesTools } from "../kubernetes/tools.ts";
import { manifest as memoryManifest } from "../memory/manifest.ts";
import { tools as memoryTools } from "../memory/tools.ts";
import type { SkillManifest } from "./manifest.ts";
import { parseManifest } from "./skill-package.ts";
import type { ToolDeclaration } from "./tool.ts";

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
