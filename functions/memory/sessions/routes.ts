import type { z } from "zod";
import { ListQuery } from "../../../clients/memory/contract/fields.ts";
import {
  AppendMessagesRequest,
  CompactSessionRequest,
  type CompactSessionResponse,
  type ListSessionsResponse,
  ReadSessionQuery,
  type ResetPolicy,
  ResetSessionRequest,
  type ResetSessionResponse,
  SessionKey,
  type SessionMessage,
  type SessionMessageInput,
  type SessionSummary,
  TrimSessionRequest,
  type TrimSessionResponse,
  type WindowSpec,
} from "../../../clients/memory/contract/sessions.ts";
import type { ApiError } from "../../../runtime/api-error.ts";
import { memoryError } from "../http/errors.ts";
import { readParam, readQuery } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type MemoryContext, type RouteDeps, rawJson } from "../http/routes.ts";
import { decodeOffset, encodeOffset } from "../paging.ts";
import { resetThreshold } from "./reset-policy.ts";
import type { SessionStore, StoredMessage, StoredWindow, WindowRequest } from "./store.ts";
import { estimateTokens } from "./tokens-estimate.ts";

const DEFAULT_LAST = 50;
const MAX_LAST = 10_000;

/** `last` defaults to 50, or to everything that fits when only a token budget is given; newest first by default. */
function windowRequest(spec: WindowSpec & { from?: "newest" | "oldest" | undefined }): WindowRequest {
  const last = spec.last ?? (spec.maxTokens === undefined ? DEFAULT_LAST : MAX_LAST);
  const request: WindowRequest = spec.maxTokens === undefined ? { last } : { last, maxTokens: spec.maxTokens };
  if (spec.from === "oldest") request.from = "oldest";
  return request;
}

/** The stored form of a message: its fields in a fixed order, token count and time filled in. */
function storedMessage(input: SessionMessageInput, now: number): StoredMessage {
  const tokens = input.tokens ?? estimateTokens(input);
  // Optional fields left undefined are dropped by JSON.stringify, so one literal keeps the order without spreads.
  const message: { [K in keyof SessionMessage]: SessionMessage[K] | undefined } = {
    id: input.id,
    role: input.role,
    content: input.content,
    name: input.name,
    toolCallId: input.toolCallId,
    toolCalls: input.toolCalls,
    meta: input.meta,
    tokens,
    at: input.at ?? now,
  };
  return { id: input.id, tokens, json: JSON.stringify(message) };
}

function windowJson(sessionKey: string, window: StoredWindow): string {
  return (
    `{"sessionKey":${JSON.stringify(sessionKey)},"generation":${window.generation},"expired":${window.expired},` +
    `"summary":${window.summaryJson ?? "null"},"messages":[${window.messagesJson}],` +
    `"total":${window.total},"truncated":${window.truncated}}`
  );
}

function sessionOf(c: MemoryContext): string {
  return readParam(c, "session", SessionKey);
}

function generationMismatch(generation: number): ApiError {
  return memoryError(412, "version_mismatch", "the session is in another generation", { currentVersion: generation });
}

function readPolicy(query: z.output<typeof ReadSessionQuery>): ResetPolicy {
  if (query.timeZone !== undefined && query.dailyHour === undefined) {
    throw memoryError(400, "invalid_request", "query.timeZone: only meaningful with dailyHour", {
      issues: [{ path: "query.timeZone", message: "only meaningful with dailyHour" }],
    });
  }
  const policy: ResetPolicy = {};
  if (query.idleMs !== undefined) policy.idleMs = query.idleMs;
  if (query.dailyHour !== undefined) policy.daily = { hour: query.dailyHour, timeZone: query.timeZone ?? "UTC" };
  return policy;
}

export function sessionRoutes(app: MemoryApp, sessions: SessionStore, deps: RouteDeps): void {
  app.get("/v1/instances/:instance/sessions", async (c) => {
    const instance = instanceFor(c, "sessions");
    const query = readQuery(c, ListQuery);
    const offset = query.cursor === undefined ? 0 : decodeOffset(query.cursor);
    if (offset === undefined) throw memoryError(400, "invalid_request", "query.cursor: not a cursor of this listing");
    const page = await sessions.list(instance, { offset, limit: query.limit ?? 50 });
    const answer: ListSessionsResponse = {
      sessions: page.sessions,
      nextCursor: page.more ? encodeOffset(offset + page.sessions.length) : null,
    };
    return c.json(answer);
  });

  app.post("/v1/instances/:instance/sessions/:session/messages", async (c) => {
    const instance = instanceFor(c, "sessions");
    const session = sessionOf(c);
    const request = await body(c, deps, AppendMessagesRequest);
    const now = deps.now();
    const outcome = await sessions.append(instance, session, {
      messages: request.messages.map((message) => storedMessage(message, now)),
      now,
      resetBefore: resetThreshold(request.reset, now),
      ...(request.window ? { window: windowRequest(request.window) } : {}),
    });
    const head =
      `{"generation":${outcome.generation},"reset":${outcome.reset},"appended":${outcome.appended},` +
      `"duplicates":${JSON.stringify(outcome.duplicates)},"total":${outcome.total}`;
    return rawJson(outcome.window ? `${head},"window":${windowJson(session, outcome.window)}}` : `${head}}`);
  });

  app.get("/v1/instances/:instance/sessions/:session/messages", async (c) => {
    const instance = instanceFor(c, "sessions");
    const session = sessionOf(c);
    const query = readQuery(c, ReadSessionQuery);
    const now = deps.now();
    const window = await sessions.read(instance, session, {
      now,
      resetBefore: resetThreshold(readPolicy(query), now),
      window: windowRequest(query),
    });
    return rawJson(windowJson(session, window));
  });

  app.post("/v1/instances/:instance/sessions/:session/trim", async (c) => {
    const instance = instanceFor(c, "sessions");
    const session = sessionOf(c);
    const request = await body(c, deps, TrimSessionRequest);
    const outcome = await sessions.trim(instance, session, request);
    if (!outcome.ok) throw generationMismatch(outcome.generation);
    const answer: TrimSessionResponse = {
      generation: outcome.generation,
      removed: outcome.removed,
      total: outcome.total,
    };
    return c.json(answer);
  });

  app.post("/v1/instances/:instance/sessions/:session/compact", async (c) => {
    const instance = instanceFor(c, "sessions");
    const session = sessionOf(c);
    const request = await body(c, deps, CompactSessionRequest);
    const summary: SessionSummary = {
      content: request.summary.content,
      tokens: request.summary.tokens ?? estimateTokens({ content: request.summary.content }),
      throughId: request.throughId,
      at: deps.now(),
    };
    const outcome = await sessions.compact(instance, session, {
      throughId: request.throughId,
      summaryJson: JSON.stringify(summary),
      summaryTokens: summary.tokens,
      ...(request.expectedGeneration === undefined ? {} : { expectedGeneration: request.expectedGeneration }),
    });
    if (outcome.kind === "unknown_message") {
      throw memoryError(404, "not_found", "throughId is not a message of this session generation");
    }
    if (outcome.kind === "generation_mismatch") throw generationMismatch(outcome.generation);
    const answer: CompactSessionResponse = {
      generation: outcome.generation,
      removed: outcome.removed,
      total: outcome.total,
      alreadyCompacted: outcome.alreadyCompacted,
      summary: outcome.summaryJson === null ? null : (JSON.parse(outcome.summaryJson) as SessionSummary),
    };
    return c.json(answer);
  });

  app.post("/v1/instances/:instance/sessions/:session/reset", async (c) => {
    const instance = instanceFor(c, "sessions");
    const session = sessionOf(c);
    const request = await body(c, deps, ResetSessionRequest, true);
    const outcome = await sessions.reset(instance, session, {
      now: deps.now(),
      ...(request.expectedGeneration === undefined ? {} : { expectedGeneration: request.expectedGeneration }),
    });
    if (!outcome.ok) throw generationMismatch(outcome.generation);
    const answer: ResetSessionResponse = { generation: outcome.generation };
    return c.json(answer);
  });
}
