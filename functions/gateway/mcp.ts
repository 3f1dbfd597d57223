import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../../runtime/api-error.ts";
import type { Logger } from "../../runtime/log.ts";
import { type ApiContext, type GatewayVariables, idempotencyKeyOf } from "./api.ts";
import type { RunEvent } from "./run-store.ts";
import { startRun, waitForEvents } from "./runs.ts";

/**
 * knclaw agents as an MCP server (Streamable HTTP, `POST /mcp`), so Claude Desktop, Claude Code, Cursor or any MCP
 * client can delegate to an agent instance: one tool per instance the gateway serves, named after it. Calling it
 * starts a run with the task (as `POST /api/v1/instances/{instance}/runs` does, under the caller's token name) and
 * answers with the run's output; while the run works, a client that asked for progress gets a notification for each
 * message and approval request of the run, and a heartbeat every HEARTBEAT_MS so its request timeout can be reset.
 *
 * Stateless: every POST gets a fresh server and transport, and no session id is issued. The gateway runs as any
 * number of replicas with no affinity and keeps run state in the memory service, so any replica must be able to
 * answer any request; an MCP session would live in one replica's memory and break when Knative routes the next
 * request elsewhere or scales that replica away. Nothing is sent outside a call, so there is no GET stream either.
 * Authentication, rate limits and CORS are the gateway's own middleware (app.ts), as for /api/v1; a browser request
 * from an origin CORS does not allow is refused (the MCP specification asks servers to check Origin). The SDK is
 * loaded on the first MCP request, so a gateway nobody asks over MCP does not pay for it at start.
 */
interface McpCaller {
  /** The name of the caller's gateway token. */
  principal: string;
  /** The request's `Idempotency-Key`: a retried POST of the same call starts one run. */
  idempotencyKey: string | undefined;
}

const HEARTBEAT_MS = 10_000;
/** The body limit of the runs API. */
const MAX_BODY_BYTES = 1024 * 1024;
const SERVER_INFO = { name: "knclaw", version: "0.1.0" };

const RunArguments = {
  task: z
    .string()
    .min(1)
    .max(64 * 1024)
    .describe("What the agent should do, in plain language."),
  input: z
    .unknown()
    .optional()
    .describe("Data the task works on (a document, a record); the agent treats it as untrusted data."),
  sessionKey: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Continue a conversation: calls with the same key share the agent's session history."),
};

export function registerMcp(app: Hono<GatewayVariables>, ctx: ApiContext, log: Logger): void {
  app.post("/mcp", async (c) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && !ctx.config.corsOrigins.has(origin)) {
      throw new ApiError(403, "forbidden", "requests from this origin are not allowed");
    }
    const caller = { principal: c.get("principal"), idempotencyKey: idempotencyKeyOf(c.req.raw) };
    return handleMcp(c.req.raw, caller, ctx, log);
  });
  // Stateless: no stream outside a call (GET) and no session to end (DELETE), which the specification answers so.
  app.on(["GET", "DELETE"], "/mcp", () => {
    throw new ApiError(405, "method_not_allowed", "this MCP server is stateless: POST requests only", {
      headers: { allow: "POST" },
    });
  });
}

async function handleMcp(request: Request, caller: McpCaller, ctx: ApiContext, log: Logger): Promise<Response> {
  const [{ McpServer }, { WebStandardStreamableHTTPServerTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/mcp.js"),
    import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"),
  ]);
  const server = new McpServer(SERVER_INFO, {
    instructions:
      "Each tool is a knclaw agent instance. Give it a task; it answers when its run finishes. Runs are governed by " +
      "the instance's policy: a tool call that needs a human's approval waits for it.",
  });
  for (const instance of [...ctx.config.instances].sort()) {
    server.registerTool(
      instance,
      {
        title: `knclaw agent ${instance}`,
        description:
          `Delegate a task to the knclaw agent "${instance}": starts a run and returns the agent's answer. ` +
          "Long runs report progress; a run that needs an approval waits for it.",
        inputSchema: RunArguments,
        annotations: { openWorldHint: true },
      },
      (args, extra) => {
        const token = extra._meta?.progressToken;
        let sent = 0;
        return runTool(ctx, log, instance, caller, args, {
          signal: AbortSignal.any([extra.signal, request.signal]),
          progress: (message) => {
            if (token === undefined) return;
            sent += 1;
            // Progress must increase with every notification; there is no total to report.
            extra
              .sendNotification({
                method: "notifications/progress",
                params: { progressToken: token, progress: sent, message },
              })
              .catch(() => undefined);
          },
        });
      },
    );
  }
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    maxRequestBodySize: MAX_BODY_BYTES,
  });
  await server.connect(transport);
  return transport.handleRequest(request);
}

interface Waiting {
  signal: AbortSignal;
  progress(message: string): void;
}

async function runTool(
  ctx: ApiContext,
  log: Logger,
  instance: string,
  caller: McpCaller,
  args: { task: string; input?: unknown; sessionKey?: string | undefined },
  waiting: Waiting,
): Promise<CallToolResult> {
  let runId: string;
  try {
    const record = await startRun(ctx, {
      instance,
      task: args.task,
      ...(args.input !== undefined ? { input: args.input } : {}),
      // Scoped to the token as the OpenAI-compatible endpoint does, so one token never continues another's session.
      ...(args.sessionKey !== undefined ? { sessionKey: `http:${caller.principal}:${args.sessionKey}` } : {}),
      by: caller.principal,
      // One key names one call: the instance is part of it, so a key reused for another instance starts that run.
      ...(caller.idempotencyKey !== undefined ? { idempotencyKey: `mcp:${instance}:${caller.idempotencyKey}` } : {}),
    });
    runId = record.runId;
  } catch (error) {
    log.error({ instance, err: (error as Error).name }, "mcp: the run could not be started");
    return failure("the gateway could not start the run (the memory service or the broker did not answer); retry");
  }
  const deadline = Date.now() + ctx.config.maxWaitSeconds * 1000;
  const started = Date.now();
  let after = 0;
  for (;;) {
    const events = await waitForEvents(
      ctx,
      runId,
      after,
      Math.min(deadline, Date.now() + HEARTBEAT_MS),
      waiting.signal,
    ).catch(() => undefined);
    if (waiting.signal.aborted) return failure(`the call was cancelled; run ${runId} continues`, runId);
    if (events === undefined) {
      if (Date.now() >= deadline) {
        return failure(
          `run ${runId} did not finish within ${ctx.config.maxWaitSeconds} s; it continues: GET /api/v1/runs/${runId}`,
          runId,
        );
      }
      waiting.progress(`run ${runId} is working (${Math.round((Date.now() - started) / 1000)} s)`);
      continue;
    }
    for (const event of events) {
      after = event.seq;
      const outcome = outcomeOf(event, runId);
      if (outcome !== undefined) return outcome;
      waiting.progress(progressText(event));
    }
  }
}

function outcomeOf(event: RunEvent, runId: string): CallToolResult | undefined {
  if (event.type === "completed") {
    const output = typeof event.data.output === "string" ? event.data.output : "";
    return { content: [{ type: "text", text: output }], _meta: runMeta(runId) };
  }
  if (event.type === "failed") {
    return failure(`run ${runId} failed (${String(event.data.reason)}): ${String(event.data.message)}`, runId);
  }
  return undefined;
}

function progressText(event: RunEvent): string {
  if (event.type === "approval") {
    const { skill, tool, approvalId, expiresAt } = event.data;
    return (
      `waiting for approval of ${String(skill)}.${String(tool)}: ` +
      `POST /api/v1/approvals/${String(approvalId)} (expires ${String(expiresAt)})`
    );
  }
  if (event.type === "approval_resolved") {
    const { approvalId, outcome, decidedBy } = event.data;
    return `approval ${String(approvalId)} ${String(outcome)}${decidedBy !== undefined ? ` by ${String(decidedBy)}` : ""}`;
  }
  return typeof event.data.text === "string" ? event.data.text.slice(0, 1000) : event.type;
}

function failure(text: string, runId?: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text }],
    ...(runId !== undefined ? { _meta: runMeta(runId) } : {}),
  };
}

/** The run id travels in the result's metadata, so a client can follow the run through /api/v1. */
function runMeta(runId: string): Record<string, unknown> {
  return { "dev.knclaw/runId": runId };
}
