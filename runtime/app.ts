import { type Attributes, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type Context, type Env, Hono } from "hono";
import type { BlankEnv } from "hono/types";
import { ApiError, errorBody, errorResponse, INTERNAL_ERROR, toApiError } from "./api-error.ts";
import { deliveryAuthentication } from "./delivery-auth.ts";
import { type FunctionEnv, LIVENESS_PATH, READINESS_PATH } from "./function.ts";
import type { Logger } from "./log.ts";
import { contextFrom, type TraceCarrier } from "./trace-context.ts";

/**
 * The function runtime: what every knclaw function serves the same way, so that a function is its handlers and
 * nothing else. The app it builds answers
 * - the Serving probes: `GET /healthz` (the process serves) and `GET /readyz` (the function's own readiness check);
 * - the broker's deliveries on `POST /`, when the function takes any: the sender's OIDC token is checked when the
 *   function's env names an audience (delivery-auth.ts), the request is decoded into an event (its size limit is the
 *   function's) and handed to the function; checks that every delivery must pass belong on this route;
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
  /**
   * The event's span: the trace context it carries (the delivery continues that trace), a span name and attributes.
   * Without it a delivery's span continues the request's `traceparent` header.
   */
  traced?(event: Event): { carrier: TraceCarrier; name: string; attributes: Attributes };
}

/**
 * A function that takes deliveries passes its env, whose `KNCLAW_DELIVERY_AUDIENCE` (runtime/platform-env.ts) decides
 * whether `POST /` requires a token: the type makes it impossible to serve deliveries without saying.
 */
type DeliveryOptions =
  // biome-ignore lint/suspicious/noExplicitAny: a function's event type is its own; the runtime only passes it along.
  { delivery: Delivery<any>; env: FunctionEnv } | { delivery?: undefined; env?: FunctionEnv };

export type FunctionAppOptions = DeliveryOptions & {
  /** Readiness beyond serving (the memory service pings its store); without it the function is ready once it serves. */
  ready?: () => Promise<Readiness>;
  /** Where failures that are not ApiErrors are logged (their messages never reach the caller). */
  logger?: Logger;
  /** The function's own errors that are not ApiErrors, as answers; the rest are 500s. */
  answerFor?: (error: unknown) => ApiError | undefined;
  /** Another body for an error answer on some routes (the gateway's OpenAI-compatible endpoint). */
  errorBody?: (error: ApiError, c: Context) => unknown;
};

const tracer = trace.getTracer("knclaw");

export function createFunctionApp<E extends Env = BlankEnv>(options: FunctionAppOptions = {}): Hono<E> {
  const app = new Hono<E>();
  const answer = (error: ApiError, c: Context) => errorResponse(error, (options.errorBody ?? errorBody)(error, c));

  const { delivery } = options;

  app.get(LIVENESS_PATH, (c) => c.json({ ok: true }));
  // Every request but the probes and the deliveries (which have their own span below) is a server span continuing
  // the caller's `traceparent`: a gateway run or a platform's webhook starts the run's trace here.
  app.use("*", async (c, next) => {
    if (c.req.path === READINESS_PATH || (delivery !== undefined && c.req.path === "/" && c.req.method === "POST")) {
      return next();
    }
    const parent = contextFrom({
      traceparent: c.req.header("traceparent"),
      tracestate: c.req.header("tracestate"),
    });
    // Named by the method until the matched route is known (`GET /api/v1/runs/:id`): never by the raw path.
    await tracer.startActiveSpan(
      c.req.method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": c.req.method, "url.path": c.req.path } },
      parent,
      async (span) => {
        try {
          await next();
          const route = c.req.routePath;
          if (route && route !== "*" && route !== "/*") span.updateName(`${c.req.method} ${route}`);
          span.setAttribute("http.response.status_code", c.res.status);
          if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        } finally {
          span.end();
        }
      },
    );
  });
  app.get(READINESS_PATH, async (c) => {
    const readiness = options.ready === undefined ? { ready: true } : await options.ready();
    return c.json(readiness, readiness.ready ? 200 : 503);
  });

  if (delivery !== undefined) {
    // The one route every broker delivery of every function passes: a check of the request (who sent it) is a
    // middleware put before this handler, a check of the event goes between decode and handle.
    const sender = deliveryAuthentication(options.env ?? {}, options.logger);
    if (sender !== undefined) app.post("/", sender);
    app.post("/", async (c) => {
      const event = await delivery.decode(c.req.raw);
      // The one place a consumer continues the trace the event carries: everything the function does for it,
      // events it emits included, is inside this span.
      const traced = delivery.traced?.(event);
      const parent = contextFrom(
        traced?.carrier ?? { traceparent: c.req.header("traceparent"), tracestate: c.req.header("tracestate") },
      );
      return tracer.startActiveSpan(
        traced?.name ?? "process",
        { kind: SpanKind.CONSUMER, attributes: traced?.attributes ?? {} },
        parent,
        async (span) => {
          try {
            const reply = await delivery.handle(event, c.req.raw);
            return reply instanceof Response ? reply : c.body(null, 200);
          } catch (error) {
            const status = error instanceof ApiError ? error.status : 500;
            if (status >= 500) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
            }
            span.setAttribute("error.type", error instanceof ApiError ? error.code : "internal");
            throw error;
          } finally {
            span.end();
          }
        },
      );
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
