import { z } from "zod";
import type { FunctionEnv } from "../../runtime/function.ts";
import { TOOL_NAME, type ToolDescriptor } from "../runtime/descriptor.ts";

/**
 * A tool, declared in one object in a skill's `tools.ts`: its name, what it does, the zod schema of its arguments,
 * and what the platform must know before it runs (whether it mutates, whether it waits for a human by default, its
 * policy groups, a timeout shorter than the skill's). There is no handler here, so describing a skill (to the model,
 * to the renderer, to `knclaw skills list`) never loads the code that acts; `handlers.ts` implements the declarations
 * (ToolHandlers) and `defineSkill` joins the two.
 */
export interface ToolDeclaration<Name extends string = string, Input extends z.ZodType = z.ZodType> {
  readonly name: Name;
  /** What the model reads to decide whether to call the tool. */
  readonly description: string;
  /** Arguments schema: the model sees it as JSON Schema, the runtime validates every call with it. */
  readonly input: Input;
  /** Changes something outside the skill (scale, delete, post). */
  readonly mutates: boolean;
  /** Held for a human by default; a policy can tighten this, only an explicit policy can relax it. */
  readonly approval: boolean;
  /** Policy groups the tool belongs to, e.g. `k8s:read`. */
  readonly groups: readonly string[];
  /** Longest one call may take, when shorter than the skill's `timeoutSeconds`. */
  readonly timeoutSeconds?: number;
}

/** A declaration as written: `groups` may be left out (none). */
export type ToolDeclarationInput<Name extends string, Input extends z.ZodType> = Omit<
  ToolDeclaration<Name, Input>,
  "groups"
> & { readonly groups?: readonly string[] };

/** `<prefix>:<word>`, as policies name groups (`k8s:read`); one colon, so every group fits a skill descriptor. */
const GROUP = /^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/;

const Declaration = z
  .object({
    name: z.string().regex(TOOL_NAME, "a tool name: [a-zA-Z0-9_-]{1,64}"),
    description: z.string().max(4096),
    // Duck-typed: a skill folder outside this checkout may bring its own copy of zod.
    input: z.custom<z.ZodType>(
      (value) => typeof (value as { safeParse?: unknown } | null)?.safeParse === "function",
      "a zod schema",
    ),
    mutates: z.boolean(),
    approval: z.boolean(),
    groups: z.array(z.string().regex(GROUP, "a group like k8s:read")).max(32).default([]),
    timeoutSeconds: z.number().positive().max(600).optional(),
  })
  .strict();

export class ToolDeclarationError extends Error {
  override name = "ToolDeclarationError";
}

/**
 * Declare a tool. The declaration is checked where it is written (a bad name, group or flag fails the import of
 * tools.ts), and the returned object is what handlers, the renderer and the agent's descriptor all read.
 */
export function defineTool<const Name extends string, Input extends z.ZodType>(
  tool: ToolDeclarationInput<Name, Input>,
): ToolDeclaration<Name, Input> {
  return parseToolDeclaration(tool) as ToolDeclaration<Name, Input>;
}

/** A `tools` entry as a skill folder exports it, checked: the loader cannot trust that it came from defineTool. */
export function parseToolDeclaration(value: unknown): ToolDeclaration {
  const parsed = Declaration.safeParse(value);
  if (parsed.success) return Object.freeze(parsed.data);
  const name = (value as { name?: unknown } | null | undefined)?.name;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.join(".") || "(root)";
  throw new ToolDeclarationError(
    `${typeof name === "string" ? `tool ${name}` : "a tools entry"}: ${where}: ${issue.message}`,
  );
}

/** The JSON Schema the model sees for a tool's arguments: always an object schema. */
export function toolInputSchema(tool: Pick<ToolDeclaration, "name" | "input">): Record<string, unknown> {
  const schema = z.toJSONSchema(tool.input, { target: "draft-2020-12", io: "input" }) as Record<string, unknown>;
  if (schema.type !== "object") throw new ToolDeclarationError(`tool ${tool.name}: arguments must be an object schema`);
  delete schema.$schema;
  return schema;
}

/** What an agent is told about one tool; `skillTimeoutSeconds` applies unless the tool declares its own. */
export function toolDescriptor(tool: ToolDeclaration, skillTimeoutSeconds: number): ToolDescriptor {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: toolInputSchema(tool),
    mutates: tool.mutates,
    approval: tool.approval,
    groups: [...tool.groups],
    timeoutSeconds: tool.timeoutSeconds ?? skillTimeoutSeconds,
  };
}

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

type ToolArguments<T extends ToolDeclaration> = z.output<T["input"]>;

/** Returns any JSON value; throws a ToolFailure (see `fail`) for a typed error. */
type ToolHandler<T extends ToolDeclaration> = (args: ToolArguments<T>, context: ToolContext) => Promise<unknown>;

/**
 * The implementation of a skill's declared tools, one handler per declaration, each typed by that declaration's
 * schema: a missing, misspelt or undeclared handler is a compile error (and `defineSkill` checks again at start).
 */
export type ToolHandlers<Tools extends readonly ToolDeclaration[]> = {
  // Keyed by name and mapped back to the declaration (not `as`-remapped), so handlers written inline in defineSkill
  // get their argument types from the schemas too.
  [Name in Tools[number]["name"]]: ToolHandler<Extract<Tools[number], { name: Name }>>;
};
