import { SkillName } from "../../eventing/catalog/shared.ts";
import { SkillManifest, type SkillManifestInput, type ToolPolicy } from "./manifest.ts";
import type { SkillDoc } from "./skill-doc.ts";
import { type JsonSchema, type ToolDefinition, toolJsonSchema } from "./tool.ts";

/** One tool of a loaded skill: its definition, the manifest's flags for it, and the JSON Schema the model is given. */
export interface SkillTool {
  definition: ToolDefinition;
  policy: ToolPolicy;
  jsonSchema: JsonSchema;
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
 * tool names are unique, argument schemas render to JSON Schema, and a skill that runs (has tools) has a name that can
 * be a Kubernetes object name and a Trigger filter value.
 */
export function assembleSkill(
  doc: SkillDoc,
  manifestInput?: SkillManifestInput | unknown,
  tools: readonly ToolDefinition[] = [],
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
  const parsed = SkillManifest.safeParse(manifestInput);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SkillPackageError(`skill ${doc.name} manifest ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const manifest = parsed.data;
  if (!SkillName.safeParse(doc.name).success) {
    throw new SkillPackageError(
      `skill ${doc.name} has tools, so its name must be a DNS label (lowercase, digits, '-')`,
    );
  }
  const seen = new Set<string>();
  for (const definition of tools) {
    if (!isToolDefinition(definition))
      throw new SkillPackageError(`skill ${doc.name}: a tools entry is not a tool definition`);
    if (seen.has(definition.name))
      throw new SkillPackageError(`skill ${doc.name}: tool ${definition.name} is defined twice`);
    seen.add(definition.name);
    const policy = manifest.tools[definition.name];
    if (!policy) throw new SkillPackageError(`skill ${doc.name}: tool ${definition.name} is missing from the manifest`);
    let jsonSchema: JsonSchema;
    try {
      jsonSchema = toolJsonSchema(definition);
    } catch (error) {
      throw new SkillPackageError(`skill ${doc.name}: tool ${definition.name}: ${(error as Error).message}`);
    }
    skill.tools.push({ definition, policy, jsonSchema });
  }
  for (const name of Object.keys(manifest.tools)) {
    if (!seen.has(name))
      throw new SkillPackageError(`skill ${doc.name}: manifest lists tool ${name}, which is not defined`);
  }
  skill.manifest = manifest;
  return skill;
}

function isToolDefinition(value: unknown): value is ToolDefinition {
  if (!value || typeof value !== "object") return false;
  const tool = value as Partial<ToolDefinition>;
  return (
    typeof tool.name === "string" &&
    /^[a-zA-Z0-9_-]{1,64}$/.test(tool.name) &&
    typeof tool.description === "string" &&
    typeof (tool.input as { safeParse?: unknown } | undefined)?.safeParse === "function"
  );
}
