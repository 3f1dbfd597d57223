import { z } from "zod";
import { TOOL_NAME } from "../runtime/descriptor.ts";

/**
 * One MCP server as the MCP skill function runs it, from `KNCLAW_MCP_SERVER` (the renderer writes it from
 * `skills.<name>.mcp` in knclaw.yaml). Secret values never travel in it: headers, the bearer token and the OAuth
 * client secret are read from the container's own variables (Secret references), named here.
 */
const ToolOverride = z.strictObject({
  /** Overrides what the tool's annotations say (`readOnlyHint` false or `destructiveHint` true => mutates). */
  mutates: z.boolean().optional(),
  /** Overrides the default (a mutating tool waits for approval). */
  approval: z.boolean().optional(),
});

const ToolList = z.array(z.string().regex(TOOL_NAME)).max(256);

const common = {
  /** Only these tools are offered (all when unset); `deny` wins. */
  allow: ToolList.optional(),
  deny: ToolList.default([]),
  tools: z.record(z.string().regex(TOOL_NAME), ToolOverride).default({}),
  timeoutSeconds: z.number().int().min(1).max(600).default(30),
  maxOutputBytes: z
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024)
    .default(256 * 1024),
};

const Stdio = z.strictObject({
  transport: z.literal("stdio"),
  /** A command packaged into the skill's image, e.g. an npm-published server's bin. */
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Literal variables for the child process. */
  env: z.record(z.string(), z.string()).default({}),
  /** Names of this container's variables (Secret references) handed on to the child. */
  passEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
  ...common,
});

const Http = z.strictObject({
  transport: z.literal("http"),
  url: z.url({ protocol: /^https?$/ }),
  /** Names of the headers sent with every request; each value is in `KNCLAW_MCP_HEADER_<NAME>` (a Secret). */
  headers: z
    .array(z.string().regex(/^[A-Za-z0-9-]{1,128}$/))
    .max(32)
    .default([]),
  /** Send `Authorization: Bearer` with the value of KNCLAW_MCP_BEARER. */
  bearer: z.boolean().default(false),
  /** OAuth client credentials (the secret in KNCLAW_MCP_OAUTH_CLIENT_SECRET), through the SDK's provider. */
  oauth: z
    .strictObject({
      clientId: z.string().min(1),
      /** The authorization server the credentials may be sent to (its issuer URL). */
      issuer: z.url({ protocol: /^https?$/ }),
      scope: z.string().optional(),
    })
    .optional(),
  ...common,
});

export const McpServerSettings = z.discriminatedUnion("transport", [Stdio, Http]);
export type McpServerSettings = z.infer<typeof McpServerSettings>;
export type McpServerSettingsInput = z.input<typeof McpServerSettings>;
