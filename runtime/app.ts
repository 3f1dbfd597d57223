import { type Context, type Env, Hono } from "hono";
import type { BlankEnv } from "hono/types";
import { ApiError, errorBody, errorResponse, INTERNAL_ERROR, toApiError } from "./api-error.ts";
import { LIVENESS_PATH, READINESS_PATH } from "./function.ts";
import type { Logger } from "./log.ts";

/**
 * The function runtime: what every knclaw function serves the same way, so that a function is its handlers and
 * nothing else. The app it builds answers
 * - the Serving probes: `GET /healthz` (the process serves) and `GET /readyz` (the function's own readiness check);
 * - the broker's deliveries on `POST /`, when the function takes any: the request is decoded into an event (its size
 *   limit is the function's) and handed to the function; checks that every delivery must pass belong on this route;
 * - errors, of every route, through the one mapping of api-error.ts;
 * and the function adds its other routes to the hono app it returns.
 */

/** What `GET /readyz` answers: 200 when ready, else 503, with the fields as the JSON body. */
export type Readiness = { ready: boolean } & Record<string, unknown>;

/** How a function takes the broker's deliveries (eventing/cloudevent/receive.ts builds one for CloudEvents). */
export interface Delivery<Event> {
  /** The request as an event; throws an ApiError (400, 413) for one that is not. */
  decode(request: Request): Promise<Event>;
  /**
   * The event's work. A Response it resolves to is the answer (a reply event, a 202); anything else, typically
   * nothing, answers 200 with no body.
   */
  handle(event: Event, request: Request): unknown;
}

export interface FunctionAppOptions {
  /** Readiness beyond serving (the memory service pings its store); without it the function is ready once it serves. */
  ready?: () => Promise<Readiness>;
  // biome-ignore lint/suspicious/noExplicitAny: a function's event type is its own; the runtime only passes it along.
  delivery?: Delivery<any>;
  /** Where failures that are not ApiErrors are logged (their messages never reach the caller). */
  logger?: Logger;
  /** The function's own errors that are not ApiErrors, as answers; the rest are 500s. */
  answerFor?: (error: unknown) => ApiError | undefined;
  /** Another body for an error answer on some routes (the gateway's OpenAI-compatible endpoint). */
  errorBody?: (error: ApiError, c: Context) => unknown;
}

export function createFunctionApp<E extends Env = BlankEnv>(options: FunctionAppOptions = {}): Hono<E> {
  const app = new Hono<E>();
  const answer = (error: ApiError, c: Context) => errorResponse(error, (options.errorBody ?? errorBody)(error, c));

  app.get(LIVENESS_PATH, (c) => c.json({ ok: true }));
  app.get(READINESS_PATH, async (c) => {
    const readiness = options.ready === undefined ? { ready: true } : await options.ready();
    return c.json(readiness, readiness.ready ? 200 : 503);
  });

  const { delivery } = options;
  if (delivery !== undefined) {
    // The one route every broker delivery of every function passes: a check of the request (who sent it) is a
    // middleware put before this handler, a check of the event goes between decode and handle.
    app.post("/", async (c) => {
      const event = await delivery.decode(c.req.raw);
      const reply = await delivery.handle(event, c.req.raw);
      return reply instanceof Response ? reply : c.body(null, 200);
    });
    app.all("/", () => {
      throw new ApiError(405, "method_not_allowed", "the broker delivers events with POST", {
        headers: { allow: "POST" },
      });
    });
  }

  app.notFound((c) => answer(new ApiError(404, "not_found", "no such route"), c));
  app.onError((error, c) => {
    const apiError = toApiError(error, options.answerFor);
    // Only a failure nothing could name is logged here: the others are answers the function meant to give.
    if (apiError === INTERNAL_ERROR) options.logger?.error({ err: error }, "request failed");
    return answer(apiError, c);
  });
  return app;
}
