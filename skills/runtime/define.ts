import { z } from "zod";
import type { FunctionEnv } from "../../runtime/function.ts";
import { SkillDescriptor, TOOL_NAME, type ToolDescriptor } from "./descriptor.ts";

/** What a handler gets besides its validated arguments. */
export interface ToolContext {
  runId: string;
  callId: string;
  instance: string;
  skill: string;
  tool: string;
  attempt: number;
  /** Aborted when the tool's timeout passes: long operations should stop then. */
  signal: AbortSignal;
  /** Epoch milliseconds by which the answer is due. */
  deadline: number;
  env: FunctionEnv;
}

export interface ToolDefinition<I extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  /** Arguments schema; the model sees it as JSON Schema (z.toJSONSchema), the runtime validates with it. */
  input: I;
  mutates?: boolean;
  approval?: boolean;
  groups?: readonly string[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Return any JSON value; throw a ToolFailure (see `fail`) for a typed error. */
  handler(args: z.output<I>, context: ToolContext): unknown;
}

export interface SkillDefinition {
  name: string;
  description?: string;
  instructions?: string;
  // biome-ignore lint/suspicious/noExplicitAny: tools of different argument types live in one list
  tools: readonly ToolDefinition<any>[];
  timeoutMs?: number;
  maxOutputBytes?: number;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/** Identity helper that keeps the handler's argument type tied to its schema. */
export function defineTool<I extends z.ZodType>(tool: ToolDefinition<I>): ToolDefinition<I> {
  return tool;
}

/** Check a skill definition once, at startup: names valid and unique, schemas renderable as JSON Schema objects. */
export function defineSkill<S extends SkillDefinition>(skill: S): S {
  const seen = new Set<string>();
  for (const tool of skill.tools) {
    if (!TOOL_NAME.test(tool.name)) throw new Error(`skill ${skill.name}: tool name "${tool.name}" is invalid`);
    if (seen.has(tool.name)) throw new Error(`skill ${skill.name}: tool "${tool.name}" is defined twice`);
    seen.add(tool.name);
    toolInputSchema(tool);
  }
  SkillDescriptor.parse(describeSkill(skill));
  return skill;
}

/** The JSON Schema the model sees for a tool's arguments: always an object schema. */
export function toolInputSchema(tool: ToolDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(tool.input, { target: "draft-2020-12", io: "input" }) as Record<string, unknown>;
  if (schema.type !== "object") throw new Error(`tool ${tool.name}: arguments must be an object schema`);
  delete schema.$schema;
  return schema;
}

export function describeSkill(skill: SkillDefinition): SkillDescriptor {
  const tools: ToolDescriptor[] = skill.tools.map((tool) => {
    const descriptor: ToolDescriptor = {
      name: tool.name,
      description: tool.description,
      inputSchema: toolInputSchema(tool),
      mutates: tool.mutates ?? false,
      approval: tool.approval ?? false,
      groups: [...(tool.groups ?? [])],
    };
    const timeoutMs = tool.timeoutMs ?? skill.timeoutMs;
    if (timeoutMs !== undefined) descriptor.timeoutSeconds = timeoutMs / 1000;
    return descriptor;
  });
  const descriptor: SkillDescriptor = { name: skill.name, tools };
  if (skill.description !== undefined) descriptor.description = skill.description;
  if (skill.instructions !== undefined) descriptor.instructions = skill.instructions;
  return descriptor;
}
