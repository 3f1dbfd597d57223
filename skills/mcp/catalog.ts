import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { TOOL_NAME, type ToolDescriptor } from "../runtime/descriptor.ts";
import type { McpServerSettings } from "./settings.ts";

/**
 * Which of a server's tools (its `tools/list`) the skill offers, and under which flags. A tool is offered when its
 * name fits knclaw's tool names, the allow list (if any) names it and the deny list does not. Its annotations give
 * the defaults: `readOnlyHint: true` is read-only; anything else (MCP's own default: not read-only, destructive)
 * mutates and waits for approval. The config's per-tool overrides win over both.
 */
export interface OfferedTool {
  descriptor: ToolDescriptor;
  /** The server's own name for it (the same string; kept apart so renaming stays possible). */
  mcpName: string;
}

const MAX_DESCRIPTION = 4096;

export function offeredTools(skill: string, settings: McpServerSettings, listed: readonly Tool[]): OfferedTool[] {
  const allow = settings.allow === undefined ? undefined : new Set(settings.allow);
  const deny = new Set(settings.deny);
  const out: OfferedTool[] = [];
  for (const tool of listed) {
    if (!TOOL_NAME.test(tool.name) || deny.has(tool.name)) continue;
    if (allow !== undefined && !allow.has(tool.name)) continue;
    const readOnly = tool.annotations?.readOnlyHint === true;
    const override = settings.tools[tool.name] ?? {};
    const mutates = override.mutates ?? !readOnly;
    const approval = override.approval ?? mutates;
    const description = tool.description ?? tool.annotations?.title ?? tool.title ?? tool.name;
    const inputSchema: Record<string, unknown> = { ...tool.inputSchema };
    delete inputSchema.$schema;
    out.push({
      mcpName: tool.name,
      descriptor: {
        name: tool.name,
        description:
          description.length > MAX_DESCRIPTION ? `${description.slice(0, MAX_DESCRIPTION - 3)}...` : description,
        inputSchema,
        mutates,
        approval,
        groups: [`${skill}:${mutates ? "write" : "read"}`],
        timeoutSeconds: settings.timeoutSeconds,
      },
    });
  }
  return out;
}
