import { createHash } from "node:crypto";
import type { z } from "zod";
import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../../eventing/catalog/attributes.ts";
import type { ToolError, ToolOutcome, ToolRequested } from "../../eventing/catalog/index.ts";
import { derivedEventId, makeEvent, readEvent } from "../../eventing/catalog/make.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../eventing/catalog/types.ts";
import { CloudEventError } from "../../eventing/cloudevent/errors.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { eventResponse } from "../../eventing/cloudevent/http-codec.ts";
import { receiveCloudEvents } from "../../eventing/cloudevent/receive.ts";
import { eventSignerFromEnv } from "../../eventing/trust/env.ts";
import { verifyingTrust } from "../../eventing/trust/event-trust.ts";
import { skillRole } from "../../eventing/trust/roles.ts";
import { ApiError } from "../../runtime/api-error.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createLogger, type Logger } from "../../runtime/log.ts";
import { outgoingCarrier } from "../../runtime/trace-context.ts";
import { describeSkill, type ServedTool, type SkillDefinition } from "../package/define-skill.ts";
import { type CallRecords, callRecordsFromEnv } from "./call-record.ts";
import { argumentsDigest } from "./canonical-json.ts";
import { type TrustedKeys, verifyCapability } from "./capability.ts";
import type { SkillDescriptor } from "./descriptor.ts";
import { OutcomeCache } from "./outcome-cache.ts";
import { capErrorDetails, capResult, MAX_RESULT_BYTES } from "./result-cap.ts";
import { asToolError, toolError } from "./tool-error.ts";
import { executeToolSpan } from "./tool-span.ts";
import { agentProducers, trustedKeysFromEnv } from "./trusted-keys.ts";

export interface ServeSkillOptions {
  /**
   * The container environment: the trusted agent keys (see trustedKeysFromEnv) and the skill's own signing key
   * (KNCLAW_EVENT_SIGNING_KEY) come from it, and handlers receive it.
   */
  env?: FunctionEnv;
  /** Overrides the keys read from env, for capability tokens and the agents' event signatures alike. */
  trustedKeys?: TrustedKeys;
  now?: () => number;
  logger?: Logger;
  /** Released on shutdown after in-flight requests finished (clients, pools). */
  close?: () => Promise<void>;
  /**
   * Where every replica records the mutating calls it ran (call-record.ts). Default: the memory service when env
   * names it (KNCLAW_MEMORY_URL and KNCLAW_MEMORY_TOKEN), else none (each replica's own cache only).
   */
  callRecords?: CallRecords;
  /** Tools known only at run time (an MCP server's): they replace `skill.tools` and its descriptor. */
  liveTools?: LiveTools;
}

/**
 * Tools discovered at run time. `find` is asked only after the call's capability token was verified, so whatever it
 * reaches (an MCP server) never acts on an unauthenticated call; a ToolFailure it throws is the call's typed error.
 */
export interface LiveTools {
  find(name: string): Promise<ServedTool | undefined>;
  describe(): Promise<SkillDescriptor>;
}

/** The Knative path a skill's Trigger delivers to, and where it describes itself. */
export const DESCRIBE_PATH = "/.well-known/knclaw-skill";

/**
 * Serve a skill as a function (ARCHITECTURE.md, "Skills"): take `tool.requested` deliveries signed by the calling
 * agent, verify the capability token, validate the arguments, run the handler under a timeout and an output cap, and
 * answer with `tool.completed`, signed as `skill/<name>` and carrying the digest of the arguments it ran, as the HTTP
 * reply (the broker ingests replies and routes them back to the agent). Failures are typed tool errors, never HTTP
 * errors, so the agent always learns what happened; only a request that is not a valid, signed tool.requested gets a
 * 4xx.
 */
export function serveSkill(skill: SkillDefinition, options: ServeSkillOptions = {}): FunctionApp {
  const env = options.env ?? {};
  const trusted = options.trustedKeys ?? trustedKeysFromEnv(env);
  const now = options.now ?? Date.now;
  const log = options.logger ?? createLogger(env, `skill-${skill.name}`);
  const signer = eventSignerFromEnv(env, skillRole(skill.name));
  const tools = new Map<string, ServedTool>(skill.tools.map((tool) => [tool.name, tool]));
  const descriptor = describeSkill(skill);
  const source = `/knclaw/skills/${skill.name}`;
  const replies = new OutcomeCache<CloudEvent>({ now });
  const live = options.liveTools;
  const records = options.callRecords ?? callRecordsFromEnv(env, skill.name);
  // A manifest may allow more than a reply can carry: the runtime's ceiling keeps every reply acceptable to the broker.
  const maxResultBytes = Math.min(skill.maxOutputBytes, MAX_RESULT_BYTES);

  const execute = async (event: CloudEvent, request: ToolRequested, digest: string): Promise<CloudEvent> => {
    const started = now();
    const outcome = await executeToolSpan(skill.name, request, () => runCall(event, request, digest, started));
    const durationMs = Math.max(0, now() - started);
    if (outcome.ok) log.info({ tool: request.tool, runId: request.runId, durationMs }, "tool succeeded");
    else log.warn({ tool: request.tool, runId: request.runId, errorClass: outcome.error.class }, "tool failed");
    const reply = makeEvent(TOOL_COMPLETED, {
      id: derivedEventId("tool.completed", event.attributes.id!),
      source,
      data: {
        runId: request.runId,
        callId: request.callId,
        instance: request.instance,
        skill: skill.name,
        tool: request.tool.slice(0, 64),
        attempt: request.attempt,
        // What the reply answers: the agent takes it only for a call it sent this skill with these arguments.
        digest,
        outcome,
        durationMs,
      },
      // The reply continues the request's trace from this delivery's span (the broker ingests it as the next hop).
      extensions: (({ traceparent, tracestate }) => ({ [EXT_TRACEPARENT]: traceparent, [EXT_TRACESTATE]: tracestate }))(
        outgoingCarrier({
          traceparent: event.attributes[EXT_TRACEPARENT],
          tracestate: event.attributes[EXT_TRACESTATE],
        }),
      ),
    });
    return signer.sign(reply);
  };

  const runCall = async (
    event: CloudEvent,
    request: ToolRequested,
    digest: string,
    started: number,
  ): Promise<ToolOutcome> => {
    const authorized = authorize(request, digest);
    if ("class" in authorized) return { ok: false, error: authorized };
    let tool: ServedTool | undefined;
    try {
      tool = live === undefined ? tools.get(request.tool) : await live.find(request.tool);
    } catch (thrown) {
      return { ok: false, error: asToolError(thrown) };
    }
    if (tool === undefined) {
      return { ok: false, error: toolError("NotFound", `skill ${skill.name} has no tool ${request.tool}`) };
    }
    const parsed = tool.input.safeParse(request.arguments ?? {});
    if (!parsed.success) return { ok: false, error: validationError(parsed.error) };
    const timeoutMs = (tool.timeoutSeconds ?? skill.timeoutSeconds) * 1000;
    const requestedDeadline = request.deadline === undefined ? Number.POSITIVE_INFINITY : Date.parse(request.deadline);
    const deadline = Math.min(started + timeoutMs, requestedDeadline);
    if (deadline <= started) return { ok: false, error: toolError("Timeout", "the call's deadline had passed") };
    const act = async (): Promise<ToolOutcome> => {
      const result = await withTimeout(deadline - started, (signal) =>
        tool.handler(parsed.data, {
          runId: request.runId,
          callId: request.callId,
          instance: request.instance,
          skill: skill.name,
          tool: tool.name,
          attempt: request.attempt,
          signal,
          deadline,
          env,
        }),
      );
      if (!result.ok) return { ok: false, error: capErrorDetails(result.error, maxResultBytes) };
      return capResult(result.result, maxResultBytes);
    };
    if (!tool.mutates || records === undefined) return act();
    const recorded = await records.once(
      { skill: skill.name, runId: request.runId, callId: request.callId, attempt: request.attempt, data: event.data },
      { keepUntil: authorized.expiresAt, now: started },
      act,
    );
    if (recorded.kind === "recorded") {
      log.info({ tool: request.tool, runId: request.runId }, "redelivered call answered from its record");
    }
    if (recorded.kind !== "unavailable") return recorded.outcome;
    log.warn({ tool: request.tool, runId: request.runId }, "call record unreachable: the mutating tool did not run");
    const unchecked = "the skill could not check whether this call already ran, so it did not run it";
    return { ok: false, error: toolError("Unavailable", unchecked, { retryable: true }) };
  };

  /** The typed error that refuses the call, or until when its capability token is valid. */
  const authorize = (request: ToolRequested, digest: string): ToolError | { expiresAt: number } => {
    if (request.skill !== skill.name) {
      return toolError("PermissionDenied", `this is skill ${skill.name}, the call is for ${request.skill}`);
    }
    const verdict = verifyCapability(request.token, { ...request, digest }, trusted, { now: now() });
    if (verdict.ok) return { expiresAt: verdict.claims.exp * 1000 };
    if (verdict.reason === "expired") {
      return toolError("AuthExpired", "the capability token expired; the agent may re-issue the call", {
        retryable: true,
      });
    }
    log.warn({ tool: request.tool, runId: request.runId, reason: verdict.reason }, "capability token refused");
    return toolError("PermissionDenied", `capability token refused: ${verdict.detail}`, { retryable: false });
  };

  const app = createFunctionApp({
    env,
    delivery: receiveCloudEvents(
      async (event) => {
        // Not a tool.requested (or not a valid one): the runtime answers the CloudEventError's 400.
        const request = readEvent(event, TOOL_REQUESTED);
        const digest = plainArgumentsDigest(request.arguments);
        // Keyed by id and content: a replayed id with other data is not answered from another call's result.
        const key = `${event.attributes.id}\u0000${createHash("sha256")
          .update(event.data ?? new Uint8Array())
          .digest("base64")}`;
        const { value } = replies.getOrCompute(key, () => execute(event, request, digest));
        return eventResponse(await value);
      },
      // Only the agent the call names may send it (its instance key), before its capability token is even read.
      { trust: verifyingTrust(agentProducers(trusted), log) },
    ),
    logger: log,
  });
  app.get(DESCRIBE_PATH, async (c) => {
    if (live === undefined) return c.json(descriptor);
    try {
      return c.json(await live.describe());
    } catch (thrown) {
      // Discovery failed (the server is down): the agent keeps the tools it last knew and asks again later.
      const error = asToolError(thrown);
      throw new ApiError(503, "discovery_failed", error.message, { retryAfterSeconds: 5 });
    }
  });

  return {
    fetch: (request) => app.fetch(request),
    close: options.close,
  };
}

/** The digest the call's token and reply bind to; arguments decoded from JSON always have one. */
function plainArgumentsDigest(args: unknown): string {
  try {
    return argumentsDigest(args);
  } catch {
    throw new CloudEventError(400, "the call's arguments are not plain JSON");
  }
}

function validationError(error: z.ZodError): ToolError {
  const issues = error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  const first = issues[0];
  return toolError("ValidationFailed", `invalid arguments: ${first ? `${first.path}: ${first.message}` : "invalid"}`, {
    details: { issues },
  });
}

async function withTimeout(
  timeoutMs: number,
  run: (signal: AbortSignal) => unknown,
): Promise<{ ok: true; result: unknown } | { ok: false; error: ToolError }> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<{ ok: false; error: ToolError }>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ ok: false, error: toolError("Timeout", `the tool did not answer within ${timeoutMs} ms`) });
    }, timeoutMs);
  });
  const ran = (async () => {
    try {
      return { ok: true as const, result: await run(controller.signal) };
    } catch (thrown) {
      return { ok: false as const, error: asToolError(thrown) };
    }
  })();
  try {
    return await Promise.race([ran, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
