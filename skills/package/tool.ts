import type { z } from "zod";
import type { ToolContext } from "../runtime/define.ts";

/**
 * A tool as a skill package declares it in `tools.ts`: name, description and a zod schema for its arguments — no
 * handler, so describing a skill (to the model, to the renderer, to `knclaw skills list`) never loads the code that
 * acts. Whether the tool mutates and needs approval is declared in the manifest next to the other needs; `bindSkill`
 * joins declarations, manifest and handlers into the runtime's SkillDefinition.
 */
export interface ToolDeclaration<Name extends string = string, Input extends z.ZodType = z.ZodType> {
  readonly name: Name;
  readonly description: string;
  readonly input: Input;
}

export function declareTool<const Name extends string, Input extends z.ZodType>(
  tool: ToolDeclaration<Name, Input>,
): ToolDeclaration<Name, Input> {
  return tool;
}

export type ToolArguments<T extends ToolDeclaration> = z.output<T["input"]>;

export type ToolHandler<T extends ToolDeclaration> = (args: ToolArguments<T>, context: ToolContext) => Promise<unknown>;

/** One handler per declared tool, keyed by name: a missing or misspelt handler is a type error. */
export type ToolHandlers<Tools extends readonly ToolDeclaration[]> = {
  [T in Tools[number] as T["name"]]: ToolHandler<T>;
};
