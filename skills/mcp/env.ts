import { z } from "zod";
import { defineEnv, json, secret, secretFamily } from "../../runtime/env-contract.ts";
import { platformVars } from "../../runtime/platform-env.ts";
import { McpServerSettings } from "./settings.ts";

/**
 * What an MCP skill function reads besides the skill runtime's variables (skills/runtime/env.ts): the server it
 * fronts, and the credentials for a remote one, each a Secret reference.
 */
export const mcpEnv = defineEnv({
  ...platformVars,
  server: json(
    "KNCLAW_MCP_SERVER",
    "`skills.<name>.mcp` without secret values: transport (`stdio` command, args, env / `http` URL, header and credential variables), allow/deny lists, per-tool overrides, limits",
    McpServerSettings,
  ),
  bearer: secret(
    "KNCLAW_MCP_BEARER",
    "the bearer token sent to a remote MCP server (`mcp.bearer`)",
    z.string().min(1).optional(),
  ),
  oauthClientSecret: secret(
    "KNCLAW_MCP_OAUTH_CLIENT_SECRET",
    "the OAuth client secret of `mcp.oauth` (client credentials grant)",
    z.string().min(1).optional(),
  ),
  header: secretFamily(
    "KNCLAW_MCP_HEADER_",
    "<NAME>",
    "the value of header `<name>` of `mcp.headers` sent to a remote MCP server",
    z.string().min(1),
  ),
});

/** `X-Api-Key` -> `X_API_KEY`, the suffix of the header's variable. */
export function headerSuffix(header: string): string {
  return header.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();
}
