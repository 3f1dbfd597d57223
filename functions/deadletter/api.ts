import type { Hono } from "hono";
import { MemoryError } from "../../clients/memory/client.ts";
import { ListDeadLettersQuery } from "../../clients/memory/contract/dead-letters.ts";
import { BrokerEmitError } from "../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { ApiError } from "../../runtime/api-error.ts";
import type { Logger } from "../../runtime/log.ts";
import { replayEvent } from "./dead-letter.ts";
import type { DeadLetterStore } from "./store.ts";

/** Where replays go: the broker (a BrokerClient on K_SINK); undefined when the function has no sink. */
export interface Emitter {
  emit(event: CloudEvent): Promise<void>;
}

export interface ApiDeps {
  store: DeadLetterStore;
  emitter: Emitter | undefined;
  logger: Logger;
}

/**
 * The operator API (bearer token checked before these run): list newest first with filters and a cursor, show one
 * entry with its data, replay it to the broker, delete it.
 */
export function registerApi(app: Hono, deps: ApiDeps): void {
  const { store } = deps;

  app.get("/v1/deadletters", async (c) => {
    const query = ListDeadLettersQuery.safeParse(c.req.query());
    if (!query.success) {
      const issue = query.error.issues[0]!;
      throw new ApiError(400, "invalid_request", `query.${issue.path.join(".")}: ${issue.message}`);
    }
    return c.json(await memory(() => store.listDeadLetters(query.data)));
  });

  app.get("/v1/deadletters/:id", async (c) => {
    const deadLetter = await memory(() => store.getDeadLetter(c.req.param("id")));
    if (!deadLetter) throw notFound();
    return c.json({ deadLetter });
  });

  app.post("/v1/deadletters/:id/replay", async (c) => {
    const id = c.req.param("id");
    const entry = await memory(() => store.getDeadLetter(id));
    if (!entry) throw notFound();
    if (!deps.emitter) throw new ApiError(503, "no_sink", "replays are unavailable: K_SINK is not set");
    const event = replayEvent(entry);
    try {
      await deps.emitter.emit(event);
    } catch (error) {
      // The entry stays as it was: nothing was replayed, the operator can try again.
      const detail = error instanceof BrokerEmitError ? (error.status ?? "no answer") : "no answer";
      deps.logger.warn({ deadLetter: id, status: detail }, "replay not accepted by the broker");
      throw new ApiError(502, "replay_refused", `the broker did not accept the replayed event (${detail})`);
    }
    deps.logger.info({ deadLetter: id, id: event.attributes.id, type: event.attributes.type }, "dead letter replayed");
    let recorded: Awaited<ReturnType<DeadLetterStore["recordDeadLetterReplay"]>>;
    try {
      recorded = await store.recordDeadLetterReplay(id);
    } catch (error) {
      if (error instanceof MemoryError && error.retryable) {
        throw new ApiError(
          503,
          "replayed_unrecorded",
          "the event was replayed but the replay could not be recorded; replaying again re-sends the same event id",
          { retryAfterSeconds: 1 },
        );
      }
      throw error;
    }
    const { id: eventId, source, type } = event.attributes;
    // null when the entry was deleted while the replay was on its way.
    return c.json({ replayed: { id: eventId, source, type }, deadLetter: recorded ?? null });
  });

  app.delete("/v1/deadletters/:id", async (c) => {
    const deleted = await memory(() => store.deleteDeadLetter(c.req.param("id")));
    if (!deleted) throw notFound();
    return c.body(null, 204);
  });
}

const notFound = () => new ApiError(404, "not_found", "no such dead letter");

/** Memory failures as API answers: its 400s (a malformed id or cursor) pass through, an outage is a 503. */
async function memory<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof MemoryError) {
      if (error.retryable) {
        throw new ApiError(503, "unavailable", "the memory service is unavailable; retry shortly", {
          retryAfterSeconds: 1,
        });
      }
      if (error.status === 400) throw new ApiError(400, "invalid_request", error.message);
      if (error.status === 404) throw notFound();
    }
    throw error;
  }
}
