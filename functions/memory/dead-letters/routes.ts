import {
  DeadLetterId,
  DeadLetterQueueName,
  type DeadLetterResponse,
  type DeadLetterSummaryResponse,
  type DeleteDeadLetterResponse,
  ListDeadLettersQuery,
  type ListDeadLettersResponse,
  RecordReplayRequest,
  StoreDeadLetterRequest,
  type StoreDeadLetterResponse,
} from "../../../clients/memory/contract/dead-letters.ts";
import { authorize } from "../http/auth.ts";
import { memoryError, notFound } from "../http/errors.ts";
import { readJson, readParam, readQuery } from "../http/request.ts";
import { body, type MemoryApp, type MemoryContext, type RouteDeps } from "../http/routes.ts";
import { decodeCursor, encodeCursor } from "../paging.ts";
import { base64Length, deadLetterId } from "./ids.ts";
import type { DeadLetterStore } from "./store.ts";

/** The `:queue` of the path, once the caller may touch dead letters (operator and deadletter tokens). */
function queueFor(c: MemoryContext): string {
  const queue = readParam(c, "queue", DeadLetterQueueName);
  authorize(c.get("principal"), "deadletters", undefined);
  return queue;
}

/** Failed deliveries a deadletter function keeps (functions/deadletter), one queue per function. */
export function deadLetterRoutes(app: MemoryApp, deadLetters: DeadLetterStore, deps: RouteDeps): void {
  const base = "/v1/deadletters/:queue";

  app.post(base, async (c) => {
    const queue = queueFor(c);
    const request = await readJson(c.req.raw, StoreDeadLetterRequest, { maxBytes: deps.config.deadLetterMaxBodyBytes });
    const { attributes, error } = request;
    const outcome = await deadLetters.store(queue, {
      id: deadLetterId(attributes.source!, attributes.id!, error.destination),
      attributesJson: JSON.stringify(attributes),
      dataBytes: request.dataBase64 === undefined ? null : base64Length(request.dataBase64),
      error,
      filter: { instance: attributes.knclawinstance ?? null, type: attributes.type!, destination: error.destination },
      maxEntries: request.maxEntries,
      maxAgeMs: request.maxAgeMs,
      now: deps.now(),
      ...(request.dataBase64 === undefined ? {} : { dataBase64: request.dataBase64 }),
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
    });
    const answer: StoreDeadLetterResponse = outcome;
    return c.json(answer, outcome.created ? 201 : 200);
  });

  app.get(base, async (c) => {
    const queue = queueFor(c);
    const query = readQuery(c, ListDeadLettersQuery);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) {
      throw memoryError(400, "invalid_request", "query.cursor: not a cursor of this listing");
    }
    const page = await deadLetters.list(queue, {
      limit: query.limit ?? 50,
      now: deps.now(),
      ...(after === undefined ? {} : { after }),
      ...(query.instance === undefined ? {} : { instance: query.instance }),
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(query.destination === undefined ? {} : { destination: query.destination }),
    });
    const answer: ListDeadLettersResponse = {
      deadLetters: page.deadLetters,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    };
    return c.json(answer);
  });

  app.get(`${base}/:id`, async (c) => {
    const queue = queueFor(c);
    const deadLetter = await deadLetters.get(queue, readParam(c, "id", DeadLetterId), deps.now());
    if (!deadLetter) throw notFound("dead letter");
    const answer: DeadLetterResponse = { deadLetter };
    return c.json(answer);
  });

  app.post(`${base}/:id/replayed`, async (c) => {
    const queue = queueFor(c);
    const id = readParam(c, "id", DeadLetterId);
    const request = await body(c, deps, RecordReplayRequest, true);
    const deadLetter = await deadLetters.recordReplay(queue, id, {
      now: deps.now(),
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
    });
    if (!deadLetter) throw notFound("dead letter");
    const answer: DeadLetterSummaryResponse = { deadLetter };
    return c.json(answer);
  });

  app.delete(`${base}/:id`, async (c) => {
    const queue = queueFor(c);
    const deleted = await deadLetters.delete(queue, readParam(c, "id", DeadLetterId), deps.now());
    const answer: DeleteDeadLetterResponse = { deleted };
    return c.json(answer);
  });
}
