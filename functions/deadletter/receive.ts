import { MemoryError } from "../../clients/memory/client.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { ApiError } from "../../runtime/api-error.ts";
import type { Logger } from "../../runtime/log.ts";
import { type Retention, storeRequest } from "./dead-letter.ts";
import type { DeadLetterStore } from "./store.ts";

export interface ReceiveDeps {
  store: DeadLetterStore;
  retention: Retention;
  logger: Logger;
}

/**
 * The broker's dead-letter delivery: the original event with Knative's knativeerror* extensions (decoded strictly by
 * the function runtime: 400 invalid, 413 too large), kept in the memory service before it is acknowledged with 202 and no body (a
 * body carrying an event would be a reply). While the memory service cannot take it the answer is 503, which the
 * broker retries: nothing acknowledged is ever lost.
 */
export function createReceiver(deps: ReceiveDeps): (event: CloudEvent) => Promise<Response> {
  return async (event) => {
    const toStore = storeRequest(event, deps.retention);
    let stored: Awaited<ReturnType<DeadLetterStore["storeDeadLetter"]>>;
    try {
      stored = await deps.store.storeDeadLetter(toStore);
    } catch (error) {
      throw storeFailure(error);
    }
    deps.logger.info(
      {
        deadLetter: stored.deadLetter.id,
        id: event.attributes.id,
        type: event.attributes.type,
        source: event.attributes.source,
        destination: toStore.error.destination,
        code: toStore.error.code,
        created: stored.created,
      },
      stored.created ? "dead letter kept" : "dead letter arrived again",
    );
    return new Response(null, { status: 202 });
  };
}

function storeFailure(error: unknown): ApiError {
  if (error instanceof MemoryError) {
    if (error.retryable) {
      return new ApiError(503, "unavailable", "the memory service is unavailable; retry shortly", {
        retryAfterSeconds: 1,
      });
    }
    if (error.status === 413) return new ApiError(413, "too_large", "the dead letter is larger than the store accepts");
  }
  return new ApiError(500, "internal", "the dead letter could not be stored");
}
