import { defineSkill, type SkillDefinition, type ToolDefinition } from "../runtime/define.ts";
import type { SkillManifestInput } from "./manifest.ts";
import { joinTools, parseManifest } from "./skill-package.ts";
import type { ToolDeclaration, ToolHandlers } from "./tool.ts";

export interface BindSkillParts<Tools extends readonly ToolDeclaration[]> {
  name: string;
  description?: string;
  instructions?: string;
  manifest: SkillManifestInput;
  tools: Tools;
  handlers: ToolHandlers<Tools>;
}

/**
 * Join a skill package's declarations, manifest and handlers into what `serveSkill` runs: each tool carries its
 * manifest flags, and the manifest's timeout and output cap become the runtime's limits, so what the renderer
 * grants (the ksvc's timeoutSeconds) and what the runtime enforces come from one place.
 */
export function bindSkill<const Tools extends readonly ToolDeclaration[]>(
  parts: BindSkillParts<Tools>,
): SkillDefinition {
  const manifest = parseManifest(parts.name, parts.manifest);
  const handlers = parts.handlers as unknown as Record<string, ToolDefinition["handler"]>;
  const tools: ToolDefinition[] = joinTools(parts.name, manifest, parts.tools).map(({ declaration, policy }) => {
    const handler = handlers[declaration.name];
    if (typeof handler !== "function") throw new Error(`skill ${parts.name}: no handler for tool ${declaration.name}`);
    return {
      name: declaration.name,
      description: declaration.description,
      input: declaration.input,
      mutates: policy.mutates,
      approval: policy.approval,
      groups: policy.groups,
      handler,
    };
  });
  const definition: SkillDefinition = {
    name: parts.name,
    tools,
    timeoutMs: manifest.timeoutSeconds * 1000,
    maxOutputBytes: manifest.maxOutputBytes,
  };
  if (parts.description !== undefined) definition.description = parts.description;
  if (parts.instructions !== undefined) definition.instructions = parts.instructions;
  return defineSkill(definition);
}
