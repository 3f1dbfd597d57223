import { RunId } from "../../../clients/memory/contract/fields.ts";
import {
  CreateRunRequest,
  type CreateRunResponse,
  ListRunsQuery,
  type ListRunsResponse,
  type Run,
  type RunResponse,
  UpdateRunRequest,
} from "../../../clients/memory/contract/runs.ts";
import { authorize, isAllowed } from "../http/auth.ts";
import { memoryError, notFound } from "../http/errors.ts";
import { readParam, readQuery } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type RouteDeps } from "../http/routes.ts";
import { newId } from "../ids.ts";
import { decodeCursor, encodeCursor } from "../paging.ts";
import { isTerminal, type RunStore } from "./store.ts";

export function runRoutes(app: MemoryApp, runs: RunStore, deps: RouteDeps): void {
  const { config } = deps;

  app.post("/v1/instances/:instance/runs", async (c) => {
    const instance = instanceFor(c, "runs:write");
    const request = await body(c, deps, CreateRunRequest);
    const now = deps.now();
    const status = request.status ?? "queued";
    const run: Run = {
      id: request.id ?? newId("run"),
      instance,
      status,
      version: 1,
      state: request.state ?? {},
      createdAt: now,
      updatedAt: now,
      expiresAt: isTerminal(status) ? now + (request.retentionMs ?? config.runRetentionMs) : null,
    };
    const outcome = await runs.create(instance, run);
    if (outcome.kind === "conflict") throw memoryError(409, "conflict", "the run id is taken by another instance");
    const answer: CreateRunResponse = { run: outcome.run, created: outcome.kind === "created" };
    return c.json(answer, answer.created ? 201 : 200);
  });

  app.get("/v1/instances/:instance/runs", async (c) => {
    const instance = instanceFor(c, "runs:read");
    const query = readQuery(c, ListRunsQuery);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) {
      throw memoryError(400, "invalid_request", "query.cursor: not a cursor of this listing");
    }
    const page = await runs.list(instance, {
      after,
      limit: query.limit ?? 50,
      now: deps.now(),
      ...(query.status === undefined ? {} : { status: query.status }),
    });
    const answer: ListRunsResponse = {
      runs: page.runs,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    };
    return c.json(answer);
  });

  app.get("/v1/instances/:instance/runs/:id", async (c) => {
    const instance = instanceFor(c, "runs:read");
    const run = await runs.get(instance, readParam(c, "id", RunId), deps.now());
    if (!run) throw notFound("run");
    const answer: RunResponse = { run };
    return c.json(answer);
  });

  app.patch("/v1/instances/:instance/runs/:id", async (c) => {
    const instance = instanceFor(c, "runs:write");
    const id = readParam(c, "id", RunId);
    const request = await body(c, deps, UpdateRunRequest);
    const outcome = await runs.update(instance, id, {
      expectedVersion: request.expectedVersion,
      retentionMs: request.retentionMs ?? config.runRetentionMs,
      now: deps.now(),
      ...(request.status === undefined ? {} : { status: request.status }),
      ...(request.state === undefined ? {} : { state: request.state }),
      ...(request.updateId === undefined ? {} : { updateId: request.updateId }),
    });
    if (outcome.kind === "missing") throw notFound("run");
    if (outcome.kind === "version_mismatch") {
      throw memoryError(412, "version_mismatch", `the run is at version ${outcome.version}`, {
        currentVersion: outcome.version,
      });
    }
    const answer: RunResponse = { run: outcome.run };
    return c.json(answer);
  });

  /** A run by id alone (the gateway knows run ids, not instances). Instance tokens see their own runs only. */
  app.get("/v1/runs/:id", async (c) => {
    const principal = c.get("principal");
    const id = readParam(c, "id", RunId);
    if (principal.scope.kind !== "instance" && !isAllowed(principal, "runs:read", undefined)) {
      throw memoryError(403, "forbidden", "this token does not open that data");
    }
    const run = await runs.find(id, deps.now());
    if (!run) throw notFound("run");
    authorize(principal, "runs:read", run.instance);
    const answer: RunResponse = { run };
    return c.json(answer);
  });
}
