import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Tool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { FunctionEnv } from "../../runtime/function.ts";
import type { Logger } from "../../runtime/log.ts";
import { fail, type ToolFailure } from "../runtime/tool-error.ts";
import { headerSuffix, mcpEnv } from "./env.ts";
import type { McpServerSettings } from "./settings.ts";

const CONNECT_TIMEOUT_SECONDS = 30;

export interface McpCallOptions {
  signal: AbortSignal;
  /** Epoch milliseconds by which the answer is due. */
  deadline: number;
}

/**
 * The skill's one connection to its MCP server, through the official SDK client. It opens on first use, and again
 * after the server closed it or died (a stdio server is restarted by the next call); `tools/list` is cached until the
 * server says `notifications/tools/list_changed` or the connection is reopened.
 */
export class McpConnection {
  private session: Promise<Client> | undefined;
  private listing: Promise<Tool[]> | undefined;
  private readonly skill: string;
  private readonly settings: McpServerSettings;
  private readonly env: FunctionEnv;
  private readonly log: Logger;

  constructor(skill: string, settings: McpServerSettings, env: FunctionEnv, log: Logger) {
    this.skill = skill;
    this.settings = settings;
    this.env = env;
    this.log = log;
  }

  /** The server's tools, all pages of `tools/list`. */
  tools(): Promise<Tool[]> {
    if (this.listing === undefined) {
      const listing = this.listAll();
      this.listing = listing;
      listing.catch(() => {
        if (this.listing === listing) this.listing = undefined;
      });
    }
    return this.listing;
  }

  /** `tools/call`, cancelled (notifications/cancelled) when `signal` aborts; progress is logged. */
  async call(name: string, args: Record<string, unknown>, options: McpCallOptions): Promise<CallToolResult> {
    const client = await this.client();
    // The skill runtime aborts `signal` at the deadline, which cancels the request; the SDK's own timeout is only a
    // backstop a little later, so a timed-out call is cancelled rather than abandoned.
    const backstop = Math.max(1, options.deadline - Date.now()) + 1000;
    try {
      const result = await client.callTool({ name, arguments: args }, undefined, {
        signal: options.signal,
        timeout: backstop,
        maxTotalTimeout: backstop,
        onprogress: (progress) => this.log.debug({ tool: name, ...progress }, "MCP tool progress"),
      });
      return result as CallToolResult;
    } catch (error) {
      // A dead connection is not reused: the next call reconnects (and restarts a stdio server). A server that
      // answered with a protocol error, or a call cancelled or timed out, leaves a working connection.
      const alive = options.signal.aborted || (error instanceof McpError && error.code !== ErrorCode.ConnectionClosed);
      if (!alive) await this.reset();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private async listAll(): Promise<Tool[]> {
    const client = await this.client();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? undefined : { cursor });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined && tools.length < 10_000);
    return tools;
  }

  private client(): Promise<Client> {
    if (this.session === undefined) {
      const session = this.open();
      this.session = session;
      session.catch(() => {
        if (this.session === session) this.session = undefined;
      });
    }
    return this.session;
  }

  private async open(): Promise<Client> {
    const client = new Client({ name: `knclaw-skill-${this.skill}`, version: "1.0.0" }, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.log.info("MCP server changed its tools: listing them again");
      this.listing = undefined;
    });
    const transport = this.transport();
    client.onclose = () => {
      // Only the current session's close forgets it (a reset already replaced it otherwise).
      void this.session?.then((current) => {
        if (current !== client) return;
        this.session = undefined;
        this.listing = undefined;
        this.log.warn("MCP server connection closed; the next call reconnects");
      });
    };
    // Starting a server (an npx-style stdio command, a cold remote) may take longer than one call may: the
    // handshake gets its own bound.
    await client.connect(transport, {
      timeout: Math.max(this.settings.timeoutSeconds, CONNECT_TIMEOUT_SECONDS) * 1000,
    });
    return client;
  }

  private transport(): Transport {
    const settings = this.settings;
    if (settings.transport === "stdio") {
      const env: Record<string, string> = { ...settings.env };
      for (const name of settings.passEnv) {
        const value = this.env[name];
        if (value !== undefined) env[name] = value;
      }
      const transport = new StdioClientTransport({
        command: settings.command,
        args: settings.args,
        env,
        stderr: "pipe",
      });
      // Read the child's stderr (an unread pipe would stall it once full) into the skill's log.
      transport.stderr?.on("data", (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") this.log.debug({ mcp: line });
      });
      return transport;
    }
    const headers: Record<string, string> = {};
    for (const name of settings.headers) headers[name] = mcpEnv.readFamily(this.env, "header", headerSuffix(name));
    if (settings.bearer) {
      const token = mcpEnv.read(this.env, "bearer");
      if (token === undefined) throw this.unconfigured(mcpEnv.names.bearer);
      headers.Authorization = `Bearer ${token}`;
    }
    const oauth = settings.oauth;
    let authProvider: ClientCredentialsProvider | undefined;
    if (oauth !== undefined) {
      const clientSecret = mcpEnv.read(this.env, "oauthClientSecret");
      if (clientSecret === undefined) throw this.unconfigured(mcpEnv.names.oauthClientSecret);
      authProvider = new ClientCredentialsProvider({
        clientId: oauth.clientId,
        clientSecret,
        expectedIssuer: oauth.issuer,
        ...(oauth.scope === undefined ? {} : { scope: oauth.scope }),
      });
    }
    return new StreamableHTTPClientTransport(new URL(settings.url), {
      requestInit: { headers },
      ...(authProvider === undefined ? {} : { authProvider }),
    });
  }

  /** A credential the config names but the pod lacks: no retry will find it. */
  private unconfigured(variable: string): ToolFailure {
    return fail.unavailable(`MCP server ${this.skill}: ${variable} is not set`, { retryable: false });
  }

  private async reset(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.listing = undefined;
    if (session === undefined) return;
    try {
      await (await session).close();
    } catch {
      // It was already gone.
    }
  }
}
