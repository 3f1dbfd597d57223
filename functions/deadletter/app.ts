import { MemoryClient } from "../../clients/memory/client.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import { receiveCloudEvents } from "../../eventing/cloudevent/receive.ts";
import { KEPT_AS_DELIVERED } from "../../eventing/trust/event-trust.ts";
import { ApiError } from "../../runtime/api-error.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import { bearer, namedTokens, refuseCredentialsInUrl } from "../../runtime/bearer.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createLogger } from "../../runtime/log.ts";
import { type Emitter, registerApi } from "./api.ts";
import { loadDeadLetterConfig } from "./config.ts";
import { deadletterEnv } from "./env.ts";
import { createReceiver } from "./receive.ts";
import { type DeadLetterStore, memoryStore } from "./store.ts";

/**
 * The dead-letter sink (ARCHITECTURE.md, "Components"): the Broker's deadLetterSink. The broker delivers a failed event
 * to `POST /`; it is kept in the memory service (its `deadletter` token opens dead-letter queues only) and answered
 * 202. Operators list, inspect, replay (to K_SINK, the broker) and delete entries through /v1/deadletters with a bearer
 * token (`knclaw dlq`). README.md in this folder has the details.
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
  if (config.apiToken === undefined)
    logger.warn(`${deadletterEnv.names.apiToken} is not set: the dead-letter API answers 403`);

  const receive = createReceiver({
    store,
    retention: { maxEntries: config.maxEntries, maxAgeMs: config.maxAgeMs },
    logger,
  });
  const app = createFunctionApp({
    ready: async () =>
      (await store.ready()) ? { ready: true } : { ready: false, reason: "the memory service does not answer" },
    env,
    // Kept exactly as dead-lettered, signature and all: a replay is verified by its consumer, not here.
    delivery: receiveCloudEvents(receive, { maxBodyBytes: config.maxBodyBytes, trust: KEPT_AS_DELIVERED }),
    logger,
  });

  // The operator API: never with a credential in the URL; off (403) for everyone while no token is configured.
  app.use("/v1/*", refuseCredentialsInUrl());
  if (config.apiToken === undefined) {
    app.use("/v1/*", () => {
      throw new ApiError(
        403,
        "disabled",
        `the dead-letter API is disabled: ${deadletterEnv.names.apiToken} is not set`,
      );
    });
  } else {
    const verify = namedTokens(new Map([["operator", config.apiToken]]));
    app.use("/v1/*", bearer({ verify, realm: "knclaw-deadletter" }));
  }
  registerApi(app, { store, emitter, logger });
  return app;
}
