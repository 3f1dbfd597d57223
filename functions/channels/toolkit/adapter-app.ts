import type { Hono } from "hono";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { createFunctionApp, type Delivery } from "../../../runtime/app.ts";
import type { FunctionEnv } from "../../../runtime/function.ts";

/**
 * What every adapter serves the same way, through the function runtime: the Serving probes and `POST /`, where the
 * broker delivers message.send and approval.requested (the Trigger's subscriber is the ksvc's root), with the
 * delivery token the env asks for. The adapter adds its platform webhooks under `/channels/<type>/...`, the same
 * paths on a cluster and under `knclaw dev`, each checked by its platform's own signature.
 */
export function adapterApp(env: FunctionEnv, delivery: Delivery<CloudEvent>): Hono {
  return createFunctionApp({ env, delivery });
}
