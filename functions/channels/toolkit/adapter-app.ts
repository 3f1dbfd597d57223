import type { Hono } from "hono";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { createFunctionApp, type Delivery } from "../../../runtime/app.ts";

/**
 * What every adapter serves the same way, through the function runtime: the Serving probes and `POST /`, where the
 * broker delivers message.send and approval.requested (the Trigger's subscriber is the ksvc's root). The adapter adds
 * its platform webhooks under `/channels/<type>/...`, the same paths on a cluster and under `knclaw dev`.
 */
export function adapterApp(delivery: Delivery<CloudEvent>): Hono {
  return createFunctionApp({ delivery });
}
