import { Hono } from "hono";
import { MemoryClient } from "../../clients/memory/client.ts";
import type { KeyValueState } from "../../clients/memory/key-value.ts";
import { MemoryKeyValue } from "../../clients/memory/key-value.ts";
import type { EventSink } from "../../eventing/client/broker-client.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import { ApiError, errorBody } from "../../runtime/api-error.ts";
import { type FunctionApp, type FunctionEnv, LIVENESS_PATH, READINESS_PATH } from "../../runtime/function.ts";
import { ENV } from "../../runtime/names.ts";
import { type ApiContext, type GatewayVariables, type PairingAdmin, registerApi } from "./api.ts";
import { authenticate } from "./auth.ts";
import { loadGatewayConfig } from "./config.ts";
import { cors } from "./cors.ts";
import { createGatewayDeliveries } from "./deliveries.ts";
import { openAiErrorBody, registerOpenAi } from "./openai.ts";
import { TokenBuckets } from "./rate-limit.ts";
import { RunStore } from "./run-store.ts";
import { RunWaiter } from "./run-waiter.ts";

/**
 * The HTTP gateway: the invocation API (/api/v1, api.ts), an OpenAI-compatible Chat Completions endpoint (/v1,
 * openai.ts), and the adapter of the `http` channel: the broker delivers the runs' messages, approval requests and
 * outcomes to `POST /` (deliveries.ts). Run records live in the memory service, so any replica answers any request.
 *
 * Env: see config.ts, plus K_SINK and KNCLAW_MEMORY_URL / KNCLAW_MEMORY_TOKEN (the `gateway` scope).
 */
export interface GatewayDeps {
  kv?: KeyValueState;
  sink?: EventSink;
  findRun?: ApiContext["findRun"];
  pairing?: PairingAdmin;
  now?: () => number;
}

export async function createApp(env: FunctionEnv, deps: GatewayDeps = {}): Promise<FunctionApp> {
  const config = loadGatewayConfig(env);
  let memory: MemoryClient | undefined;
  if (deps.kv === undefined) {
    const baseUrl = env[ENV.memoryUrl];
    const token = env[ENV.memoryToken];
    if (!baseUrl || !token) throw new Error(`${ENV.memoryUrl} and ${ENV.memoryToken} must be set (the memory service)`);
    memory = new MemoryClient({ baseUrl, token });
  }
  const store = new RunStore(deps.kv ?? new MemoryKeyValue(memory!, "gateway"));
  const waiter = new RunWaiter();
  const now = deps.now ?? Date.now;
  const ctx: ApiContext = {
    config,
    store,
    waiter,
    sink: deps.sink ?? BrokerClient.fromEnv(env, { retries: 3, backoffDelayMs: 50, timeoutMs: 5_000 }),
    source: "/knclaw/gateway",
    now,
    ...(deps.findRun ? { findRun: deps.findRun } : memory ? { findRun: (id: string) => memory.findRun(id) } : {}),
    ...(deps.pairing ? { pairing: deps.pairing } : memory ? { pairing: memory } : {}),
  };
  const limits = new TokenBuckets(config.rateLimit.requestsPerMinute, config.rateLimit.burst, now);
  const deliveries = createGatewayDeliveries(store, waiter);

  const app = new Hono<GatewayVariables>();
  app.get(LIVENESS_PATH, (c) => c.text("ok"));
  app.get(READINESS_PATH, (c) => c.text("ok"));
  app.post("/", (c) => deliveries(c.req.raw));

  for (const prefix of ["/api/v1/*", "/v1/*"]) {
    app.use(prefix, cors(config.corsOrigins));
    app.use(prefix, async (c, next) => {
      const auth = authenticate(c.req.raw, config.tokens);
      if (!auth.ok) {
        const code = auth.status === 401 ? "unauthorized" : "credentials_in_url";
        throw new ApiError(
          auth.status,
          code,
          auth.message,
          auth.status === 401 ? { "www-authenticate": "Bearer" } : {},
        );
      }
      const allowed = limits.take(auth.name);
      if (!allowed.ok) {
        throw new ApiError(429, "rate_limited", "too many requests for this token", {
          "retry-after": String(Math.max(1, Math.ceil(allowed.retryAfterMs / 1000))),
        });
      }
      c.set("token", auth.name);
      await next();
    });
  }
  registerApi(app, ctx);
  registerOpenAi(app, ctx);

  app.notFound((c) => c.json({ error: { code: "not_found", message: "no such route" } }, 404));
  app.onError((error, c) => {
    const apiError =
      error instanceof ApiError
        ? error
        : new ApiError(503, "unavailable", "the gateway could not complete the request");
    const openAi = new URL(c.req.url).pathname.startsWith("/v1/");
    const body = openAi ? openAiErrorBody(apiError) : errorBody(apiError);
    return c.json(body, apiError.status as 400, apiError.headers);
  });
  return app;
}
