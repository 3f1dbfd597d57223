import { SkillDescriptor } from "../runtime/descriptor.ts";
import type { SkillManifestInput } from "./manifest.ts";
import { checkTools, parseManifest, SkillPackageError } from "./skill-package.ts";
import { type ToolContext, type ToolDeclaration, type ToolHandlers, toolDescriptor } from "./tool.ts";

/** The parts of a skill: its tool declarations (tools.ts), its skill-level settings (manifest.ts), its handlers. */
export interface SkillParts<Tools extends readonly ToolDeclaration[]> {
  name: string;
  description?: string;
  /** The SKILL.md body, when the skill describes itself with it. */
  instructions?: string;
  manifest: SkillManifestInput;
  tools: Tools;
  handlers: ToolHandlers<Tools>;
}

/** A declared tool joined with its handler: what `serveSkill` runs for a call. */
export interface ServedTool extends ToolDeclaration {
  handler(args: unknown, context: ToolContext): Promise<unknown>;
}

/** A skill ready to serve: its tools with their handlers, and the manifest's limits the runtime enforces. */
export interface SkillDefinition {
  name: string;
  description?: string;
  instructions?: string;
  tools: readonly ServedTool[];
  /** Longest one call may take, unless its tool declares less (the ksvc's timeoutSeconds follows the same value). */
  timeoutSeconds: number;
  /** Largest serialized result returned. */
  maxOutputBytes: number;
}

/**
 * Join a skill's declarations, manifest and handlers into what `serveSkill` runs, checked once at start: the same
 * checks as loading the skill's folder (checkTools), exactly one handler per declared tool, and a descriptor agents
 * accept. The manifest's timeout and output cap become the runtime's limits, so what the renderer grants (the ksvc's
 * timeoutSeconds) and what the runtime enforces come from one place.
 */
export function defineSkill<const Tools extends readonly ToolDeclaration[]>(parts: SkillParts<Tools>): SkillDefinition {
  const manifest = parseManifest(parts.name, parts.manifest);
  const handlers = parts.handlers as unknown as Record<string, ServedTool["handler"] | undefined>;
  const tools = checkTools(parts.name, manifest, parts.tools).map((declaration): ServedTool => {
    const handler = Object.hasOwn(handlers, declaration.name) ? handlers[declaration.name] : undefined;
    if (typeof handler !== "function") {
      throw new SkillPackageError(`skill ${parts.name}: no handler for tool ${declaration.name}`);
    }
    return { ...declaration, handler };
  });
  for (const name of Object.keys(handlers)) {
    if (!tools.some((tool) => tool.name === name)) {
      throw new SkillPackageError(`skill ${parts.name}: a handler for ${name}, which is not a declared tool`);
    }
  }
  const skill: SkillDefinition = {
    name: parts.name,
    tools,
    timeoutSeconds: manifest.timeoutSeconds,
    maxOutputBytes: manifest.maxOutputBytes,
  };
  if (parts.description !== undefined) skill.description = parts.description;
  if (parts.instructions !== undefined) skill.instructions = parts.instructions;
  SkillDescriptor.parse(describeSkill(skill));
  return skill;
}

/** What the skill tells agents about itself (`GET /.well-known/knclaw-skill`). */
export function describeSkill(skill: SkillDefinition): SkillDescriptor {
  const descriptor: SkillDescriptor = {
    name: skill.name,
    tools: skill.tools.map((tool) => toolDescriptor(tool, skill.timeoutSeconds)),
  };
  if (skill.description !== undefined) descriptor.description = skill.description;
  if (skill.instructions !== undefined) descriptor.instructions = skill.instructions;
  return descriptor;
}
