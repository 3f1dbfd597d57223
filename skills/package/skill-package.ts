import { SkillName } from "../../eventing/catalog/shared.ts";
import type { SkillDescriptor } from "../runtime/descriptor.ts";
import { SkillManifest } from "./manifest.ts";
import type { SkillDoc } from "./skill-doc.ts";
import { parseToolDeclaration, type ToolDeclaration, toolDescriptor, toolInputSchema } from "./tool.ts";

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
  /** The declarations, checked (see checkTools). */
  tools: ToolDeclaration[];
  /** The folder it was loaded from, when it came from disk. */
  dir?: string;
  warnings: string[];
}

export class SkillPackageError extends Error {
  override name = "SkillPackageError";
}

/**
 * Put a skill together and check that its parts agree: a skill with tools has a manifest, its tools are well declared
 * (checkTools), and a skill that runs (has a manifest) has a name that can be a Kubernetes object name and a Trigger
 * filter value.
 */
export function assembleSkill(doc: SkillDoc, manifestInput?: unknown, tools: readonly unknown[] = []): SkillPackage {
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
  skill.tools = checkTools(doc.name, manifest, tools);
  skill.manifest = manifest;
  return skill;
}

export function parseManifest(skillName: string, input: unknown): SkillManifest {
  if (input !== null && typeof input === "object" && Object.hasOwn(input, "tools")) {
    throw new SkillPackageError(
      `skill ${skillName} manifest tools: mutates, approval and groups are declared on each tool in tools.ts ` +
        "(defineTool), not in the manifest",
    );
  }
  const parsed = SkillManifest.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new SkillPackageError(`skill ${skillName} manifest ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

/**
 * Check a skill's tool declarations: each is a well-formed declaration (whoever wrote it), names are unique, argument
 * schemas render to JSON Schema objects, and no tool claims more time than the skill's ksvc is given.
 */
export function checkTools(skillName: string, manifest: SkillManifest, tools: readonly unknown[]): ToolDeclaration[] {
  const checked: ToolDeclaration[] = [];
  const seen = new Set<string>();
  for (const entry of tools) {
    let tool: ToolDeclaration;
    try {
      tool = parseToolDeclaration(entry);
      toolInputSchema(tool);
    } catch (error) {
      throw new SkillPackageError(`skill ${skillName}: ${(error as Error).message}`);
    }
    if (seen.has(tool.name)) throw new SkillPackageError(`skill ${skillName}: tool ${tool.name} is declared twice`);
    seen.add(tool.name);
    if (tool.timeoutSeconds !== undefined && tool.timeoutSeconds > manifest.timeoutSeconds) {
      throw new SkillPackageError(
        `skill ${skillName}: tool ${tool.name} asks for ${tool.timeoutSeconds} s, more than the skill's ` +
          `timeoutSeconds (${manifest.timeoutSeconds} s)`,
      );
    }
    checked.push(tool);
  }
  return checked;
}

/** What agents are told about a skill (the runtime's descriptor), built from the package on disk. */
export function skillDescriptor(skill: SkillPackage): SkillDescriptor {
  const manifest = skill.manifest;
  const descriptor: SkillDescriptor = {
    name: skill.name,
    description: skill.description,
    tools: manifest ? skill.tools.map((tool) => toolDescriptor(tool, manifest.timeoutSeconds)) : [],
  };
  if (skill.instructions !== "") descriptor.instructions = skill.instructions;
  return descriptor;
}
