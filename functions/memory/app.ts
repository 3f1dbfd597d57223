import { BrokerClient } from "../../eventing/client/broker-client.ts";
import { eventSigner } from "../../eventing/trust/event-signature.ts";
import { MEMORY_ROLE } from "../../eventing/trust/roles.ts";
import { signingSink } from "../../eventing/trust/signing-sink.ts";
import { ApiError } from "../../runtime/api-error.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { parsePrivateKey } from "../../runtime/keys.ts";
import { createLogger, type Logger } from "../../runtime/log.ts";
import { auditRoutes } from "./audit/routes.ts";
import { blobRoutes } from "./blobs/routes.ts";
import { loadConfig, type MemoryConfig } from "./config.ts";
import { coordinationRoutes } from "./coordination/routes.ts";
import { deadLetterRoutes } from "./dead-letters/routes.ts";
import { memoryEnv } from "./env.ts";
import { authenticate, type MemoryEnv } from "./http/auth.ts";
import type { RouteDeps } from "./http/routes.ts";
import { noteRoutes } from "./notes/routes.ts";
import { peopleRoutes } from "./people/routes.ts";
import { runRoutes } from "./runs/routes.ts";
import { sessionRoutes } from "./sessions/routes.ts";
import { type MemoryStores, StoreUnavailableError } from "./stores.ts";
import { TimerPoller } from "./timers/poller.ts";
import { timerRoutes } from "./timers/routes.ts";

export interface MemoryAppOptions {
  /** The clock every decision uses (session resets, budget windows, expiry, due timers); tests pass their own. */
  now?: () => number;
}

export interface MemoryServiceApp extends FunctionApp {
  /** Which store this instance of the service runs on. */
  readonly backend: MemoryStores["kind"];
  /** Fires the timers due now (the service also does so every KNCLAW_MEMORY_TIMER_POLL_MS); undefined without K_SINK. */
  readonly timers: { poll(): Promise<number> } | undefined;
}

/** How long a starting service waits for its first Redis connection before serving (and answering 503). */
const STARTUP_WAIT_MS = 2_000;

/**
 * One process only ever runs one store, so each is imported when chosen: the bundle keeps the other as a chunk that is
 * never parsed (on a cluster that spares the embedded store; under `knclaw dev`, ioredis).
 */
async function openStores(config: MemoryConfig, logger: Logger, now: () => number): Promise<MemoryStores> {
  if (config.backend === "embedded") {
    const { openEmbeddedStores } = await import("./embedded/stores.ts");
    return openEmbeddedStores(now, { path: config.embeddedPath, maxFinishedRuns: config.embeddedMaxFinishedRuns });
  }
  const { openRedisStores } = await import("./redis/stores.ts");
  let down = false;
  const stores = openRedisStores({
    url: config.redisUrl!,
    cluster: config.redisCluster,
    keyPrefix: config.keyPrefix,
    commandTimeoutMs: config.redisTimeoutMs,
    onError: (error) => {
      if (down) return;
      down = true;
      logger.warn({ reason: error.message }, "redis unreachable: answering 503 until it is back");
    },
  });
  stores.client.on("ready", () => {
    if (!down) return;
    down = false;
    logger.info("redis reachable again");
  });
  await stores.waitUntilReady(STARTUP_WAIT_MS);
  return stores;
}

/**
 * The memory service: an HTTP API over Redis, or over the embedded store when no KNCLAW_REDIS_URL is given
 * or KNCLAW_MEMORY_BACKEND=embedded. README.md in this folder documents the routes and the key schema.
 */
export async function createApp(env: FunctionEnv, options: MemoryAppOptions = {}): Promise<MemoryServiceApp> {
  const config = loadConfig(env);
  const logger = createLogger(env, "memory");
  const now = options.now ?? Date.now;
  const stores = await openStores(config, logger, now);
  const deps: RouteDeps = { config, now };

  const app = createFunctionApp<MemoryEnv>({
    ready: async () => {
      try {
        await stores.ping();
        return { ready: true, backend: stores.kind };
      } catch {
        return { ready: false, backend: stores.kind, reason: "the memory store does not answer" };
      }
    },
    logger,
    answerFor: (error) =>
      error instanceof StoreUnavailableError
        ? new ApiError(503, "unavailable", "the memory store is unavailable; retry shortly", { retryAfterSeconds: 1 })
        : undefined,
  });
  app.use("/v1/*", authenticate(config.tokenSecret, config.operatorToken));
  sessionRoutes(app, stores.sessions, deps);
  peopleRoutes(app, stores.people, deps);
  noteRoutes(app, stores.notes, deps);
  runRoutes(app, stores.runs, deps);
  blobRoutes(app, stores.blobs, deps);
  coordinationRoutes(app, stores.coordination, deps);
  auditRoutes(app, stores.audit, deps);
  deadLetterRoutes(app, stores.deadLetters, deps);
  timerRoutes(app, stores.timers, deps);
  const poller = startTimers(env, config, stores, now, logger);

  return {
    backend: stores.kind,
    timers: poller,
    fetch: (request) => app.fetch(request),
    close: async () => {
      await poller?.stop();
      await stores.close();
    },
  };
}

/**
 * Due timers become events on the broker K_SINK names (the memory service's SinkBinding), signed as the `memory`
 * producer role, the only role consumers take timer.fired from. Without a sink, timers are still kept (and fire once
 * the service runs with one), and the log says so.
 */
function startTimers(
  env: FunctionEnv,
  config: MemoryConfig,
  stores: MemoryStores,
  now: () => number,
  logger: Logger,
): TimerPoller | undefined {
  if (!env.K_SINK) {
    logger.warn("no K_SINK: timers are kept but none fires until the service runs with a broker to send them to");
    return undefined;
  }
  const keyName = memoryEnv.names.eventSigningKey;
  // Unsigned, every consumer would refuse them: better not to start than to lose every deadline.
  if (config.eventSigningKey === undefined) {
    throw new EnvError(`${keyName} is required with K_SINK: the timers the service fires are signed with it`);
  }
  const signer = eventSigner(MEMORY_ROLE, parsePrivateKey(config.eventSigningKey, keyName));
  // A short bound per attempt: a poll waits for its emits, and a timer whose emit failed fires again anyway.
  const broker = BrokerClient.fromEnv(env, { retries: 2, timeoutMs: 5_000 });
  const poller = new TimerPoller({
    store: stores.timers,
    emit: signingSink(broker, signer).emit,
    now,
    pollMs: config.timerPollMs,
    log: logger,
  });
  poller.start();
  return poller;
}
