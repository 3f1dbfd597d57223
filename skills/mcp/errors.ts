import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { fail, ToolFailure } from "../runtime/tool-error.ts";

/**
 * A protocol or transport failure of an MCP call as a typed tool error (ARCHITECTURE.md, "Typed tool errors"): what
 * may pass on a later attempt (the server closed the connection or died, timed out, is overloaded or unreachable) is
 * retryable; what will fail the same way again (invalid parameters, an unknown tool, refused credentials) is not.
 * Messages name the class of failure, never the server's URL or headers.
 */
export function toToolFailure(error: unknown, server: string): ToolFailure {
  if (error instanceof ToolFailure) return error;
  if (error instanceof McpError) {
    switch (error.code) {
      case ErrorCode.ConnectionClosed:
        return fail.unavailable(`MCP server ${server} closed the connection during the call`);
      case ErrorCode.RequestTimeout:
        return fail.timeout(`MCP server ${server} did not answer in time`);
      case ErrorCode.InvalidParams:
        return fail.validation(`MCP server ${server} refused the arguments: ${error.message}`);
      case ErrorCode.MethodNotFound:
        return fail.notFound(`MCP server ${server}: ${error.message}`);
      default:
        return fail.internal(`MCP server ${server} answered with an error (${error.code}): ${error.message}`);
    }
  }
  if (error instanceof UnauthorizedError) {
    return fail.permissionDenied(`MCP server ${server} refused the skill's credentials`);
  }
  if (error instanceof StreamableHTTPError) {
    const status = error.code ?? 0;
    if (status === 401 || status === 403) {
      return fail.permissionDenied(`MCP server ${server} refused the skill's credentials (HTTP ${status})`);
    }
    if (status === 429) return fail.rateLimited(`MCP server ${server} is rate limiting`);
    if (status === 404) return fail.unavailable(`MCP server ${server} lost the session; it is reopened next call`);
    if (status >= 500) return fail.unavailable(`MCP server ${server} failed (HTTP ${status})`);
    return fail.internal(`MCP server ${server} refused the request (HTTP ${status})`);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT" || code === "EACCES") {
    return fail.unavailable(`MCP server ${server} could not be started`, { retryable: false });
  }
  // Connection refused, reset, DNS, a child that exited while starting: the server may be back on the next call.
  return fail.unavailable(`MCP server ${server} is unreachable`);
}
