import { z } from "zod";
import type { FunctionEnv } from "../../runtime/function.ts";
import type { Logger } from "../../runtime/log.ts";
import type { ServedTool, SkillDefinition } from "../package/define-skill.ts";
import type { SkillDescriptor } from "../runtime/descriptor.ts";
import type { LiveTools } from "../runtime/serve-skill.ts";
import { fail } from "../runtime/tool-error.ts";
import { offeredTools } from "./catalog.ts";
import { McpConnection } from "./connection.ts";
import { toToolFailure } from "./errors.ts";
import { toToolResult } from "./results.ts";
import type { McpServerSettings } from "./settings.ts";

/**
 * The arguments of an MCP tool as the skill runtime checks them: an object. Their JSON Schema is the server's own;
 * the agent's policy gate validates every call against it before it is signed, and the server validates again, so
 * the skill adds no third, weaker copy of that check.
 */
const McpArguments = z.record(z.string(), z.unknown());

export interface McpSkill {
  definition: SkillDefinition;
  live: LiveTools;
  connection: McpConnection;
}

/**
 * One MCP server as a knclaw skill: its tools are discovered (`tools/list`), filtered and flagged (catalog.ts), and
 * served through serveSkill, which verifies the capability token before `find` is asked for a tool, so no
 * `tools/call` reaches the server without a valid token. Only the descriptor (`describe`, the agent's discovery)
 * asks the server anything unauthenticated, and that is `tools/list`, which acts on nothing.
 */
export function createMcpSkill(
  name: string,
  settings: McpServerSettings,
  env: FunctionEnv,
  log: Logger,
  description?: string,
): McpSkill {
  const connection = new McpConnection(name, settings, env, log);

  const offered = async () => {
    try {
      return offeredTools(name, settings, await connection.tools());
    } catch (error) {
      throw toToolFailure(error, name);
    }
  };

  const served = (tool: Awaited<ReturnType<typeof offered>>[number]): ServedTool => ({
    name: tool.descriptor.name,
    description: tool.descriptor.description,
    input: McpArguments,
    mutates: tool.descriptor.mutates,
    approval: tool.descriptor.approval,
    groups: tool.descriptor.groups,
    handler: async (args, context) => {
      let result: Awaited<ReturnType<McpConnection["call"]>>;
      try {
        result = await connection.call(tool.mcpName, args as Record<string, unknown>, context);
      } catch (error) {
        throw toToolFailure(error, name);
      }
      return toToolResult(result);
    },
  });

  const live: LiveTools = {
    async find(tool) {
      const match = (await offered()).find((candidate) => candidate.descriptor.name === tool);
      return match === undefined ? undefined : served(match);
    },
    async describe() {
      const tools = await offered();
      if (tools.length === 0) throw fail.notFound(`MCP server ${name} offers no tools this skill may serve`);
      const descriptor: SkillDescriptor = { name, tools: tools.map((tool) => tool.descriptor) };
      if (description !== undefined) descriptor.description = description;
      return descriptor;
    },
  };

  const definition: SkillDefinition = {
    name,
    tools: [],
    timeoutSeconds: settings.timeoutSeconds,
    maxOutputBytes: settings.maxOutputBytes,
  };
  if (description !== undefined) definition.description = description;
  return { definition, live, connection };
}
