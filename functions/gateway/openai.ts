import type { Hono } from "hono";
import { z } from "zod";
import { ApiError, type ApiErrorOptions } from "../../runtime/api-error.ts";
import { type ApiContext, type GatewayVariables, readJson } from "./api.ts";
import type { RunEvent, RunRecord } from "./run-store.ts";
import { startRun, waitForEvents, waitForOutcome } from "./runs.ts";
import { sseResponse } from "./sse.ts";

/**
 * An OpenAI-compatible Chat Completions endpoint, so any OpenAI client can talk to an agent: `model` is
 * `knclaw:<instance>`, the last user message is the task, and `X-Knclaw-Session-Key` keeps a conversation going on the
 * agent's side (scoped to the calling token). Streaming relays what the run says as it says it.
 *
 * A failed or unfinished run is answered with `x-should-retry: false`: an SDK retry would start a second run.
 */
const SESSION_KEY_HEADER = "x-knclaw-session-key";
const MODEL_PREFIX = "knclaw:";

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const ChatMessage = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  })
  .passthrough();
const ChatRequest = z
  .object({
    model: z.string().min(1).max(256),
    messages: z.array(ChatMessage).min(1).max(1000),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
  })
  .passthrough();

function textOf(content: z.infer<typeof ChatMessage>["content"]): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("");
  return "";
}

class OpenAiError extends ApiError {
  readonly type: string;
  constructor(status: number, type: string, code: string, message: string, options: ApiErrorOptions = {}) {
    super(status, code, message, options);
    this.type = type;
  }
}

/**
 * An error as OpenAI's API words it. What the gateway answers for every API (401, the per-token rate limit's 429, its
 * 5xx) gets OpenAI's own type, and the 429 OpenAI's code, so an SDK or a client that matches on them (retrying
 * `rate_limit_exceeded` after Retry-After) behaves as it does against OpenAI.
 */
export function openAiErrorBody(error: ApiError) {
  if (error instanceof OpenAiError) {
    return { error: { message: error.message, type: error.type, param: null, code: error.code } };
  }
  const [type, code] =
    error.status === 401
      ? ["authentication_error", error.code]
      : error.status === 429
        ? ["requests", "rate_limit_exceeded"]
        : error.status >= 500
          ? ["server_error", error.code]
          : ["invalid_request_error", error.code];
  return { error: { message: error.message, type, param: null, code } };
}

function usageOf(record: RunRecord) {
  const input = record.usage?.inputTokens ?? 0;
  const output = record.usage?.outputTokens ?? 0;
  return { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
}

export function registerOpenAi(app: Hono<GatewayVariables>, ctx: ApiContext): void {
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: [...ctx.config.instances].sort().map((instance) => ({
        id: `${MODEL_PREFIX}${instance}`,
        object: "model",
        created: 0,
        owned_by: "knclaw",
      })),
    }),
  );

  app.post("/v1/chat/completions", async (c) => {
    const body = await readJson(c.req.raw, ChatRequest);
    const instance = body.model.startsWith(MODEL_PREFIX) ? body.model.slice(MODEL_PREFIX.length) : "";
    if (!ctx.config.instances.has(instance)) {
      throw new OpenAiError(
        404,
        "invalid_request_error",
        "model_not_found",
        `The model \`${body.model}\` does not exist; use knclaw:<instance>`,
      );
    }
    const lastUser = body.messages.findLastIndex((m) => m.role === "user");
    if (lastUser < 0)
      throw new OpenAiError(400, "invalid_request_error", "invalid_request", "messages need at least one user message");
    const task = textOf(body.messages[lastUser]!.content);
    if (task.trim() === "")
      throw new OpenAiError(400, "invalid_request_error", "invalid_request", "the last user message is empty");
    const token = c.get("principal");
    const session = c.req.header(SESSION_KEY_HEADER);
    if (session !== undefined && !/^[\x21-\x7e]{1,200}$/.test(session)) {
      throw new OpenAiError(
        400,
        "invalid_request_error",
        "invalid_request",
        `${SESSION_KEY_HEADER} must be 1-200 printable characters`,
      );
    }
    // Without a session the agent has no history of its own: earlier turns travel along, as caller-provided data.
    const earlier = body.messages.slice(0, lastUser).map((m) => ({ role: m.role, content: textOf(m.content) }));
    const idempotencyKey = c.req.header("idempotency-key");
    const record = await startRun(ctx, {
      instance,
      task,
      ...(session !== undefined
        ? { sessionKey: `http:${token}:${session}` }
        : earlier.length > 0
          ? { input: { conversation: earlier } }
          : {}),
      by: token,
      ...(idempotencyKey !== undefined && /^[\x21-\x7e]{1,255}$/.test(idempotencyKey) ? { idempotencyKey } : {}),
    });
    const id = `chatcmpl-${record.runId}`;
    const created = Math.floor(Date.parse(record.createdAt) / 1000);
    const headers = { "x-knclaw-run-id": record.runId };
    if (body.stream) {
      return streamCompletion(
        ctx,
        record.runId,
        { id, created, model: body.model, includeUsage: body.stream_options?.include_usage === true },
        headers,
        c.req.raw.signal,
      );
    }
    const finished = await waitForOutcome(ctx, record.runId, ctx.config.maxWaitSeconds, c.req.raw.signal);
    if (finished === undefined) {
      throw new OpenAiError(
        504,
        "timeout",
        "run_pending",
        `run ${record.runId} did not finish in time; poll /api/v1/runs/${record.runId}`,
        { headers: { ...headers, "x-should-retry": "false" } },
      );
    }
    if (finished.status === "failed") {
      throw new OpenAiError(422, "run_failed", finished.reason ?? "failed", finished.message ?? "the run failed", {
        headers: { ...headers, "x-should-retry": "false" },
      });
    }
    return c.json(
      {
        id,
        object: "chat.completion",
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: finished.output ?? "", refusal: null },
            finish_reason: "stop",
            logprobs: null,
          },
        ],
        usage: usageOf(finished),
      },
      200,
      headers,
    );
  });
}

function streamCompletion(
  ctx: ApiContext,
  runId: string,
  meta: { id: string; created: number; model: string; includeUsage: boolean },
  headers: Record<string, string>,
  requestSignal: AbortSignal,
): Response {
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
    JSON.stringify({
      id: meta.id,
      object: "chat.completion.chunk",
      created: meta.created,
      model: meta.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    });
  return sseResponse(async (writer) => {
    const signal = AbortSignal.any([writer.signal, requestSignal]);
    writer.send({ data: chunk({ role: "assistant", content: "" }) });
    const deadline = Date.now() + ctx.config.maxWaitSeconds * 1000;
    const streamed: string[] = [];
    let after = 0;
    for (;;) {
      const events = await waitForEvents(ctx, runId, after, deadline, signal);
      if (signal.aborted) return;
      if (events === undefined) {
        writer.send({
          data: JSON.stringify({
            error: {
              message: `run ${runId} did not finish in time`,
              type: "timeout",
              param: null,
              code: "run_pending",
            },
          }),
        });
        return;
      }
      for (const event of events) {
        after = event.seq;
        const text = deltaText(event, streamed);
        if (text !== undefined) {
          writer.send({ data: chunk({ content: streamed.length > 0 ? `\n\n${text}` : text }) });
          streamed.push(text);
        }
        if (event.type === "failed") {
          const message = String(event.data.message ?? "the run failed");
          writer.send({
            data: JSON.stringify({
              error: { message, type: "run_failed", param: null, code: String(event.data.reason ?? "failed") },
            }),
          });
          return;
        }
        if (event.type === "completed") {
          writer.send({ data: chunk({}, "stop") });
          if (meta.includeUsage) {
            const usage = event.data.usage as { inputTokens?: number; outputTokens?: number } | undefined;
            const input = usage?.inputTokens ?? 0;
            const output = usage?.outputTokens ?? 0;
            writer.send({
              data: JSON.stringify({
                id: meta.id,
                object: "chat.completion.chunk",
                created: meta.created,
                model: meta.model,
                choices: [],
                usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
              }),
            });
          }
          writer.send({ data: "[DONE]" });
          return;
        }
      }
    }
  }, headers);
}

/** The text an event adds to the answer: messages as said; the final output unless a message already said it. */
function deltaText(event: RunEvent, streamed: readonly string[]): string | undefined {
  if (event.type === "message")
    return typeof event.data.text === "string" && event.data.text !== "" ? event.data.text : undefined;
  if (event.type === "approval") {
    return `Approval needed for ${String(event.data.skill)}.${String(event.data.tool)}: POST /api/v1/approvals/${String(event.data.approvalId)}`;
  }
  if (event.type === "completed") {
    const output = typeof event.data.output === "string" ? event.data.output : "";
    return output !== "" && !streamed.includes(output) ? output : undefined;
  }
  return undefined;
}
