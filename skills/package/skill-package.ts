import { SkillName } from "../../eventing/catalog/shared.ts";
import { toolInputSchema } from "../runtime/define.ts";
import type { SkillDescriptor } from "../runtime/descriptor.ts";
import { SkillManifest, type SkillManifestInput, type ToolPolicy } from "./manifest.ts";
import type { SkillDoc } from "./skill-doc.ts";
import type { ToolDeclaration } from "./tool.ts";

/** One tool of a loaded skill: its declaration, the manifest's flags for it, and the JSON Schema the model is given. */
export interface SkillTool {
  declaration: ToolDeclaration;
  policy: ToolPolicy;
  inputSchema: Record<string, unknown>;
}

/**
 * A loaded skill. An instructions-only skill (an OpenClaw-style folder: SKILL.md and nothing else) has no manifest
 * and no tools: it contributes instructions to the model and renders to nothing.
 */
export interface SkillPackage {
  name: string;
  description: string;
  instructions: string;
  doc: SkillDoc;
  manifest?: SkillManifest;
  tools: SkillTool[];
  /** The folder it was loaded from, when it came from disk. */
  dir?: string;
  warnings: string[];
}

export class SkillPackageError extends Error {
  override name = "SkillPackageError";
}

/**
 * Put a skill together and check that its parts agree: every tool has exactly one manifest entry and vice versa,
 * tool names are unique, argument schemas render to JSON Schema, and a skill that runs (has a manifest) has a name
 * that can be a Kubernetes object name and a Trigger filter value.
 */
export function assembleSkill(
  doc: SkillDoc,
  manifestInput?: unknown,
  tools: readonly ToolDeclaration[] = [],
): SkillPackage {
  const skill: SkillPackage = {
    name: doc.name,
    description: doc.description,
    instructions: doc.instructions,
    doc,
    tools: [],
    warnings: [...doc.warnings],
  };
  if (manifestInput === undefined) {
    if (tools.length > 0) throw new SkillPackageError(`skill ${doc.name} has tools but no manifest`);
    return skill;
  }
  const manifest = parseManifest(doc.name, manifestInput);
  if (!SkillName.safeParse(doc.name).success) {
    throw new SkillPackageError(`skill ${doc.name} runs as a function, so its name must be a DNS label`);
  }
  skill.tools = joinTools(doc.name, manifest, tools);
  skill.manifest = manifest;
  return skill;
}

export function parseManifest(skillName: string, input: SkillManifestInput | unknown): SkillManifest {
  const parsed = SkillManifest.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new SkillPackageError(`skill ${skillName} manifest ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

/** Pair each declaration with its manifest entry; both sides must name exactly the same tools. */
export function joinTools(skillName: string, manifest: SkillManifest, tools: readonly ToolDeclaration[]): SkillTool[] {
  const joined: SkillTool[] = [];
  const seen = new Set<string>();
  for (const declaration of tools) {
    if (!isToolDeclaration(declaration)) {
      throw new SkillPackageError(`skill ${skillName}: a tools entry is not a tool declaration`);
    }
    if (seen.has(declaration.name)) {
      throw new SkillPackageError(`skill ${skillName}: tool ${declaration.name} is declared twice`);
    }
    seen.add(declaration.name);
    const policy = manifest.tools[declaration.name];
    if (!policy)
      throw new SkillPackageError(`skill ${skillName}: tool ${declaration.name} is missing from the manifest`);
    let inputSchema: Record<string, unknown>;
    try {
      inputSchema = toolInputSchema({ ...declaration, handler: () => undefined });
    } catch (error) {
      throw new SkillPackageError(`skill ${skillName}: tool ${declaration.name}: ${(error as Error).message}`);
    }
    joined.push({ declaration, policy, inputSchema });
  }
  for (const name of Object.keys(manifest.tools)) {
    if (!seen.has(name)) {
      throw new SkillPackageError(`skill ${skillName}: manifest lists tool ${name}, which is not declared`);
    }
  }
  return joined;
}

/** What agents are told about a skill (the runtime's descriptor), built from the package on disk. */
export function skillDescriptor(skill: SkillPackage): SkillDescriptor {
  const descriptor: SkillDescriptor = {
    name: skill.name,
    description: skill.description,
    tools: skill.tools.map((tool) => {
      const described: SkillDescriptor["tools"][number] = {
        name: tool.declaration.name,
        description: tool.declaration.description,
        inputSchema: tool.inputSchema,
        mutates: tool.policy.mutates,
        approval: tool.policy.approval,
        groups: [...tool.policy.groups],
      };
      if (skill.manifest) described.timeoutSeconds = skill.manifest.timeoutSeconds;
      return described;
    }),
  };
  if (skill.instructions !== "") descriptor.instructions = skill.instructions;
  return descriptor;
}

function isToolDeclaration(value: unknown): value is ToolDeclaration {
  if (!value || typeof value !== "object") return false;
  const tool = value as Partial<ToolDeclaration>;
  return (
    typeof tool.name === "string" &&
    /^[a-zA-Z0-9_-]{1,64}$/.test(tool.name) &&
    typeof tool.description === "string" &&
    typeof (tool.input as { safeParse?: unknown } | undefined)?.safeParse === "function"
  );
}
