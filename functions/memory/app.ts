import { Hono } from "hono";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createLogger, type Logger } from "../../runtime/log.ts";
import { type MemoryBackend, StoreUnavailableError } from "./backends/backend.ts";
import { loadConfig, type MemoryConfig } from "./config.ts";
import { authenticate, type MemoryEnv } from "./http/auth.ts";
import { errorResponse, HttpError } from "./http/errors.ts";
import { auditRoutes } from "./routes/audit.ts";
import type { RouteDeps } from "./routes/common.ts";
import { coordinationRoutes } from "./routes/coordination.ts";
import { deadLetterRoutes } from "./routes/dead-letters.ts";
import { noteRoutes } from "./routes/notes.ts";
import { peopleRoutes } from "./routes/people.ts";
import { runRoutes } from "./routes/runs.ts";
import { sessionRoutes } from "./routes/sessions.ts";

export interface MemoryAppOptions {
  /** The clock every decision uses (session resets, budget windows, expiry); tests pass their own. */
  now?: () => number;
}

export interface MemoryServiceApp extends FunctionApp {
  /** Which store this instance of the service runs on. */
  readonly backend: MemoryBackend["kind"];
}

/** How long a starting service waits for its first Redis connection before serving (and answering 503). */
const STARTUP_WAIT_MS = 2_000;

/**
 * One process only ever runs one store, so each is imported when chosen: the bundle keeps the other as a chunk that is
 * never parsed (on a cluster that spares the embedded store; under `knclaw dev`, ioredis).
 */
async function openBackend(config: MemoryConfig, logger: Logger, now: () => number): Promise<MemoryBackend> {
  if (config.backend === "embedded") {
    const { EmbeddedBackend } = await import("./backends/embedded/backend.ts");
    return new EmbeddedBackend(now);
  }
  const { RedisBackend } = await import("./backends/redis/backend.ts");
  let down = false;
  const backend = new RedisBackend({
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
  backend.client.on("ready", () => {
    if (!down) return;
    down = false;
    logger.info("redis reachable again");
  });
  await backend.waitUntilReady(STARTUP_WAIT_MS);
  return backend;
}

/**
 * The memory service (DESIGN.md §5): an HTTP API over Redis, or over the embedded store when no KNCLAW_REDIS_URL is given
 * or KNCLAW_MEMORY_BACKEND=embedded. README.md in this folder documents the routes and the key schema.
 */
export async function createApp(env: FunctionEnv, options: MemoryAppOptions = {}): Promise<MemoryServiceApp> {
  const config = loadConfig(env);
  const logger = createLogger(env, "memory");
  const now = options.now ?? Date.now;
  const backend = await openBackend(config, logger, now);
  const deps: RouteDeps = { backend, config, now };

  const app = new Hono<MemoryEnv>();
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    try {
      await backend.ping();
      return c.json({ ready: true, backend: backend.kind });
    } catch {
      return c.json({ ready: false, backend: backend.kind, reason: "the memory store does not answer" }, 503);
    }
  });
  app.use("/v1/*", authenticate(config.tokenSecret, config.operatorToken));
  sessionRoutes(app, deps);
  peopleRoutes(app, deps);
  noteRoutes(app, deps);
  runRoutes(app, deps);
  coordinationRoutes(app, deps);
  auditRoutes(app, deps);
  deadLetterRoutes(app, deps);
  app.notFound(() => errorResponse(new HttpError(404, "not_found", "no such route")));
  app.onError((error) => {
    if (error instanceof HttpError) return errorResponse(error);
    if (error instanceof StoreUnavailableError) {
      return errorResponse(new HttpError(503, "unavailable", "the memory store is unavailable; retry shortly"));
    }
    logger.error({ err: error }, "request failed");
    return errorResponse(new HttpError(500, "internal", "internal error"));
  });

  return {
    backend: backend.kind,
    fetch: (request) => app.fetch(request),
    close: () => backend.close(),
  };
}
