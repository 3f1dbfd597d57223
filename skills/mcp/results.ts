import { createHash } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ToolFailure } from "../runtime/tool-error.ts";

/**
 * An MCP `tools/call` result as a knclaw tool result. Text stays text; structured content is passed as is; binary
 * content (images, audio, blob resources) is never inlined into the run (it would flood the model's context and the
 * run document): it becomes a reference with its type, size and sha256. A result with `isError` is the tool's own
 * failure, answered as a typed error whose message is the server's text (written for the model).
 */
type McpResultItem =
  | { type: "text"; text: string }
  | { type: "image" | "audio"; mimeType: string; bytes: number; sha256: string }
  | { type: "resource"; uri: string; mimeType?: string; text?: string; bytes?: number; sha256?: string }
  | { type: "resource_link"; uri: string; name: string; mimeType?: string; description?: string };

export interface McpToolResult {
  content: McpResultItem[];
  structuredContent?: Record<string, unknown>;
}

export function toToolResult(result: CallToolResult): McpToolResult {
  const content = (result.content ?? []).map(toItem);
  if (result.isError === true) {
    const text = content
      .filter((item): item is { type: "text"; text: string } => item.type === "text")
      .map((item) => item.text)
      .join("\n");
    throw new ToolFailure("Internal", text === "" ? "the MCP tool reported an error" : text, {
      retryable: false,
      details: { source: "mcp", isError: true },
    });
  }
  const out: McpToolResult = { content };
  if (result.structuredContent !== undefined) out.structuredContent = result.structuredContent;
  return out;
}

function toItem(item: CallToolResult["content"][number]): McpResultItem {
  switch (item.type) {
    case "text":
      return { type: "text", text: item.text };
    case "image":
    case "audio":
      return { type: item.type, mimeType: item.mimeType, ...binaryRef(item.data) };
    case "resource": {
      const resource = item.resource;
      const out: McpResultItem = { type: "resource", uri: resource.uri };
      if (resource.mimeType !== undefined) out.mimeType = resource.mimeType;
      if ("text" in resource && typeof resource.text === "string") out.text = resource.text;
      if ("blob" in resource && typeof resource.blob === "string") Object.assign(out, binaryRef(resource.blob));
      return out;
    }
    case "resource_link": {
      const out: McpResultItem = { type: "resource_link", uri: item.uri, name: item.name };
      if (item.mimeType !== undefined) out.mimeType = item.mimeType;
      if (item.description !== undefined) out.description = item.description;
      return out;
    }
  }
}

function binaryRef(base64: string): { bytes: number; sha256: string } {
  const data = Buffer.from(base64, "base64");
  return { bytes: data.length, sha256: `sha256:${createHash("sha256").update(data).digest("hex")}` };
}
