import { z } from "zod";

/**
 * A tool as the model sees it: a name, a description and a zod schema for its arguments. The schema is the single
 * source of truth: it becomes the JSON Schema the model is given, the agent's policy gate validates proposed arguments
 * against that JSON Schema, and the skill validates again with zod before its handler runs.
 */
export interface ToolDefinition<Name extends string = string, Input extends z.ZodType = z.ZodType> {
  readonly name: Name;
  readonly description: string;
  readonly input: Input;
}

export function defineTool<const Name extends string, Input extends z.ZodType>(
  tool: ToolDefinition<Name, Input>,
): ToolDefinition<Name, Input> {
  return tool;
}

export type ToolArguments<T extends ToolDefinition> = z.output<T["input"]>;

/** A JSON Schema document (draft 2020-12), as given to the model under `parameters` / `input_schema`. */
export type JsonSchema = Record<string, unknown>;

/**
 * The JSON Schema of a tool's arguments. `io: "input"` describes what the caller may send (fields with defaults are
 * optional), which is what the model writes; unrepresentable zod types throw so a tool can never silently publish a
 * schema looser than its validator.
 */
export function toolJsonSchema(tool: ToolDefinition): JsonSchema {
  const schema = z.toJSONSchema(tool.input, { io: "input", unrepresentable: "throw", target: "draft-2020-12" });
  if (schema.type !== "object") throw new Error(`tool ${tool.name}: arguments must be an object schema`);
  return schema as JsonSchema;
}

/** Who is calling and on whose behalf: taken from the verified capability token, never from the arguments. */
export interface ToolCallContext {
  instance: string;
  runId: string;
  callId: string;
  skill: string;
  tool: string;
  /** Aborted when the call's deadline passes; handlers pass it to every I/O they start. */
  signal: AbortSignal;
}

export type ToolHandler<T extends ToolDefinition> = (
  args: ToolArguments<T>,
  context: ToolCallContext,
) => Promise<unknown>;

/** One handler per tool, keyed by name: a missing or misspelt handler is a type error. */
export type ToolHandlers<Tools extends readonly ToolDefinition[]> = {
  [T in Tools[number] as T["name"]]: ToolHandler<T>;
};
