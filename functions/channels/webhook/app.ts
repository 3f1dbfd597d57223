import { LEASE_SECONDS, runOnce } from "../../../clients/memory/run-once.ts";
import { derivedEventId, makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { receiveCloudEvents } from "../../../eventing/cloudevent/receive.ts";
import { ApiError, errorResponse } from "../../../runtime/api-error.ts";
import { EnvError } from "../../../runtime/env-contract.ts";
import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";
import { adapterApp } from "../toolkit/adapter-app.ts";
import {
  type AdapterDeps,
  answerWithin,
  badRequest,
  createAdapterRuntime,
  inboundErrorResponse,
  parseJsonBody,
  readWebhookBody,
  unauthorized,
} from "../toolkit/adapter-runtime.ts";
import { channelEnv, platformVariable } from "../toolkit/env.ts";
import { SignatureReplayGuard } from "../toolkit/replay-window.ts";
import type { WebhookHook } from "../toolkit/webhook-hooks.ts";
import { verifyHookRequest } from "./signature.ts";
import { renderTask } from "./task.ts";

/**
 * The generic signed webhook: `POST /channels/webhook/<hook>` with a per-hook HMAC secret; a verified delivery
 * becomes one run.requested for the hook's instance, its payload attached as untrusted content. Answers 202 with
 * the run id (the same id for a redelivery).
 *
 * Env: KNCLAW_WEBHOOK_HOOKS (JSON, the hooks), one secret variable per hook (`secret: githubSecret` ->
 * GITHUB_SECRET; default SIGNING_SECRET), K_SINK, the memory service's URL and channel token.
 */
const DEADLINE_MS = 10_000;
const DEDUP_KEEP_SECONDS = 3 * 24 * 3600;

function loadHooks(env: FunctionEnv): Map<string, { hook: WebhookHook; secret: string }> {
  const hooks = new Map<string, { hook: WebhookHook; secret: string }>();
  for (const [name, hook] of Object.entries(channelEnv.read(env, "webhookHooks"))) {
    const variable = platformVariable(hook.secret);
    const secret = env[variable];
    if (!secret) throw new EnvError(`hook ${name}: its secret ${variable} is not set`);
    hooks.set(name, { hook, secret });
  }
  return hooks;
}

export async function createApp(env: FunctionEnv, deps: AdapterDeps = {}): Promise<FunctionApp> {
  const hooks = loadHooks(env);
  const runtime = createAdapterRuntime("webhook", env, deps, { dedupKeepSeconds: DEDUP_KEEP_SECONDS });
  // The webhook channel only starts runs; answers go wherever the hook's runs are routed, never back here.
  // The webhook channel only brings messages in: a delivery for it is refused.
  const app = adapterApp(
    env,
    receiveCloudEvents(
      () => {
        throw new ApiError(400, "not_handled", "the webhook channel sends nothing");
      },
      { trust: runtime.trust },
    ),
  );
  // Only the timestamped scheme: a GitHub redelivery is the very same signed request and must be de-duplicated.
  const replays = new SignatureReplayGuard(runtime.state.kv, "webhook");

  app.post("/channels/webhook/:hook", async (c) => {
    try {
      const name = c.req.param("hook");
      const entry = hooks.get(name);
      if (entry === undefined) {
        await c.req.raw.body?.cancel().catch(() => undefined);
        return errorResponse(new ApiError(404, "not_found", "no such hook"));
      }
      const body = await readWebhookBody(c.req.raw);
      const verified = verifyHookRequest(entry.hook, entry.secret, c.req.raw.headers, body, runtime.now());
      if (verified === undefined) return unauthorized();
      const signature = entry.hook.scheme === "knclaw" ? c.req.header("x-knclaw-signature") : undefined;
      if (signature !== undefined && (await replays.seen(signature))) return unauthorized();
      const payload = parseJsonBody(body);
      if (payload === null || typeof payload !== "object")
        return badRequest("the payload must be a JSON object or array");
      const runId = derivedEventId("webhook", name, verified.deliveryId);
      return answerWithin(DEADLINE_MS, async () => {
        await runOnce(
          runtime.state.kv,
          `hook:${name}:${runId}`,
          { leaseSeconds: LEASE_SECONDS, keepSeconds: DEDUP_KEEP_SECONDS },
          () =>
            runtime.sink.emit(
              makeEvent(T.RUN_REQUESTED, {
                source: runtime.inbound.source,
                id: derivedEventId("webhook", "run", name, verified.deliveryId),
                data: {
                  instance: entry.hook.instance,
                  runId,
                  task: renderTask(entry.hook.task, payload),
                  input: { untrusted: true, source: `webhook:${name}`, content: payload },
                  ...(entry.hook.contract !== undefined ? { contract: entry.hook.contract } : {}),
                  ...(entry.hook.replyTo !== undefined ? { replyTo: entry.hook.replyTo } : {}),
                  requestedBy: { channel: "webhook", id: name },
                },
              }),
            ),
        );
        if (signature !== undefined) await replays.remember(signature);
        return Response.json({ runId }, { status: 202 });
      });
    } catch (error) {
      return inboundErrorResponse(error);
    }
  });

  return app;
}
