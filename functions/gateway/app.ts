import { MemoryClient } from "../../clients/memory/client.ts";
import type { KeyValueState } from "../../clients/memory/key-value.ts";
import { MemoryKeyValue } from "../../clients/memory/key-value.ts";
import type { EventSink } from "../../eventing/client/broker-client.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import { receiveCloudEvents } from "../../eventing/cloudevent/receive.ts";
import { eventSignerFromEnv, trustedProducersFromEnv } from "../../eventing/trust/env.ts";
import { verifyingTrust } from "../../eventing/trust/event-trust.ts";
import { GATEWAY_ROLE } from "../../eventing/trust/roles.ts";
import { signingSink } from "../../eventing/trust/signing-sink.ts";
import { ApiError, errorBody } from "../../runtime/api-error.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import { bearer, namedTokens, refuseCredentialsInUrl } from "../../runtime/bearer.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createLogger } from "../../runtime/log.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { type ApiContext, type GatewayVariables, type PairingAdmin, registerApi } from "./api.ts";
import { loadGatewayConfig } from "./config.ts";
import { DeadLetterApi } from "./console/dead-letters.ts";
import { registerConsole } from "./console/routes.ts";
import type { RunReader } from "./console/runs.ts";
import { ConsoleSessions } from "./console/session.ts";
import { cors } from "./cors.ts";
import { createGatewayDeliveries, MAX_DELIVERY_BYTES } from "./deliveries.ts";
import { registerMcp } from "./mcp.ts";
import { openAiErrorBody, registerOpenAi } from "./openai.ts";
import { TokenBuckets } from "./rate-limit.ts";
import { memoryRedriveTimers, type RedriveTimers } from "./redrive.ts";
import { RunStore } from "./run-store.ts";
import { RunWaiter } from "./run-waiter.ts";

/**
 * The HTTP gateway: the invocation API (/api/v1, api.ts), an OpenAI-compatible Chat Completions endpoint (/v1,
 * openai.ts), the adapter of the `http` channel (the broker delivers the runs' messages, approval requests and
 * outcomes to `POST /`, deliveries.ts) and the operator console (console/, entered at `GET /`). Run records and
 * console sessions live in the memory service, so any replica answers any request.
 *
 * Env: see config.ts, plus K_SINK and KNCLAW_MEMORY_URL / KNCLAW_MEMORY_TOKEN (the `gateway` scope).
 */
export interface GatewayDeps {
  kv?: KeyValueState;
  sink?: EventSink;
  findRun?: ApiContext["findRun"];
  /** The re-drive timers (default: the memory service's). */
  timers?: RedriveTimers;
  pairing?: PairingAdmin;
  /** The agents' run documents for the console (default: the memory service). */
  runs?: RunReader;
  now?: () => number;
}

export async function createApp(env: FunctionEnv, deps: GatewayDeps = {}): Promise<FunctionApp> {
  const config = loadGatewayConfig(env);
  let memory: MemoryClient | undefined;
  if (deps.kv === undefined) memory = new MemoryClient(memoryClientSettings(env));
  const store = new RunStore(deps.kv ?? new MemoryKeyValue(memory!, "gateway"));
  const waiter = new RunWaiter();
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? (memory ? memoryRedriveTimers(memory) : undefined);
  const log = createLogger(env, "gateway");
  const broker = deps.sink ?? BrokerClient.fromEnv(env, { retries: 3, backoffDelayMs: 50, timeoutMs: 5_000 });
  const ctx: ApiContext & { forward: EventSink } = {
    config,
    store,
    waiter,
    sink: signingSink(broker, eventSignerFromEnv(env, GATEWAY_ROLE)),
    // Kept chat messages go out again as their channel signed them (chat-redrive.ts).
    forward: broker,
    source: "/knclaw/gateway",
    now,
    ...(deps.findRun ? { findRun: deps.findRun } : memory ? { findRun: (id: string) => memory.findRun(id) } : {}),
    ...(deps.pairing ? { pairing: deps.pairing } : memory ? { pairing: memory } : {}),
    ...(timers ? { redrive: { timers, afterMs: config.redriveAfterSeconds * 1000 } } : {}),
    log,
  };
  const limits = new TokenBuckets(
    config.rateLimit.requestsPerMinute,
    config.rateLimit.burst,
    now,
    config.rateLimit.tokens,
  );
  const deliveries = createGatewayDeliveries(ctx);

  const app = createFunctionApp<GatewayVariables>({
    env,
    delivery: receiveCloudEvents(deliveries, {
      maxBodyBytes: MAX_DELIVERY_BYTES,
      trust: verifyingTrust(trustedProducersFromEnv(env), log),
    }),
    logger: log,
    // What the gateway cannot name is nearly always the memory service or the broker failing: worth a retry, soon.
    answerFor: () =>
      new ApiError(503, "unavailable", "the gateway could not complete the request", { retryAfterSeconds: 1 }),
    errorBody: (error, c) => (c.req.path.startsWith("/v1/") ? openAiErrorBody(error) : errorBody(error)),
  });

  const verifyToken = namedTokens(config.tokens);
  for (const prefix of ["/api/v1/*", "/v1/*", "/mcp"]) {
    app.use(prefix, cors(config.corsOrigins));
    app.use(prefix, refuseCredentialsInUrl());
    app.use(prefix, bearer({ verify: verifyToken }));
    app.use(prefix, async (c, next) => {
      const allowed = limits.take(c.get("principal"));
      if (!allowed.ok) {
        throw new ApiError(429, "rate_limited", "too many requests for this token", {
          retryAfterSeconds: Math.max(1, allowed.retryAfterMs / 1000),
        });
      }
      await next();
    });
  }
  registerApi(app, ctx);
  registerOpenAi(app, ctx);
  registerMcp(app, ctx, log);
  registerConsole(app, {
    config,
    store,
    sessions: new ConsoleSessions(store.kvForEmits, now),
    instanceDetails: config.instanceDetails,
    ...(deps.runs ? { runs: deps.runs } : memory ? { runs: memory } : {}),
    ...(ctx.pairing ? { pairing: ctx.pairing } : {}),
    ...(config.deadletterUrl !== undefined && config.deadletterToken !== undefined
      ? { deadLetters: new DeadLetterApi(config.deadletterUrl, config.deadletterToken) }
      : {}),
  });
  // The runtime answers every method on `/` but the broker's POST with 405; a browser's GET / enters the console.
  return {
    fetch: (request) =>
      request.method === "GET" && new URL(request.url).pathname === "/"
        ? Response.redirect(new URL("/console/runs", request.url), 303)
        : app.fetch(request),
  };
}
