import { Hono } from "hono";
import { MemoryClient } from "../../clients/memory/client.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import { ApiError, errorResponse } from "../../runtime/api-error.ts";
import { type FunctionApp, type FunctionEnv, LIVENESS_PATH, READINESS_PATH } from "../../runtime/function.ts";
import { createLogger } from "../../runtime/log.ts";
import { type Emitter, registerApi } from "./api.ts";
import { requireOperator } from "./auth.ts";
import { loadDeadLetterConfig } from "./config.ts";
import { createReceiver } from "./receive.ts";
import { type DeadLetterStore, memoryStore } from "./store.ts";

/**
 * The dead-letter sink (DESIGN.md §2): the Broker's deadLetterSink. The broker delivers a failed event to `POST /`;
 * it is kept in the memory service (its `deadletter` token opens dead-letter queues only) and answered 202. Operators
 * list, inspect, replay (to K_SINK, the broker) and delete entries through /v1/deadletters with a bearer token
 * (`knclaw dlq`). README.md in this folder has the details.
 */
export interface DeadLetterDeps {
  /** Another store than the memory service named by the env (tests). */
  store?: DeadLetterStore;
  /** Another way to replay than a BrokerClient on K_SINK (tests). */
  emitter?: Emitter;
}

export async function createApp(env: FunctionEnv, deps: DeadLetterDeps = {}): Promise<FunctionApp> {
  const config = loadDeadLetterConfig(env);
  const logger = createLogger(env, "deadletter");
  const store =
    deps.store ?? memoryStore(new MemoryClient({ baseUrl: config.memoryUrl, token: config.memoryToken }), config.queue);
  const emitter =
    deps.emitter ??
    (config.sink === undefined
      ? undefined
      : BrokerClient.fromEnv(env, { retries: 3, backoffDelayMs: 50, timeoutMs: 10_000 }));
  if (config.apiToken === undefined) logger.warn("KNCLAW_DEADLETTER_TOKEN is not set: the dead-letter API answers 403");

  const app = new Hono();
  app.get(LIVENESS_PATH, (c) => c.json({ ok: true }));
  app.get(READINESS_PATH, async (c) =>
    (await store.ready())
      ? c.json({ ready: true })
      : c.json({ ready: false, reason: "the memory service does not answer" }, 503),
  );
  const receive = createReceiver({
    store,
    maxBodyBytes: config.maxBodyBytes,
    retention: { maxEntries: config.maxEntries, maxAgeMs: config.maxAgeMs },
    logger,
  });
  app.post("/", (c) => receive(c.req.raw));
  app.all("/", () => {
    throw new ApiError(405, "method_not_allowed", "the broker delivers dead letters with POST", { allow: "POST" });
  });
  app.use("/v1/*", requireOperator(config.apiToken));
  registerApi(app, { store, emitter, logger });

  app.notFound(() => errorResponse(new ApiError(404, "not_found", "no such route")));
  app.onError((error) => {
    if (error instanceof ApiError) return errorResponse(error);
    logger.error({ err: error }, "request failed");
    return errorResponse(new ApiError(500, "internal", "internal error"));
  });
  return app;
}
