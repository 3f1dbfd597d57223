import { Hono } from "hono";
import type { FunctionApp } from "../../../runtime/function.ts";
import { LIVENESS_PATH, READINESS_PATH } from "../../../runtime/function.ts";

/**
 * The routes every adapter shares: the Serving probes and `POST /`, where the broker delivers message.send and
 * approval.requested (the Trigger's subscriber is the ksvc's root). Platform webhooks live under
 * `/channels/<type>/...`, the same paths on a cluster and under `knclaw dev`.
 */
export function adapterApp(delivery: (request: Request) => Promise<Response>): Hono {
  const app = new Hono();
  app.get(LIVENESS_PATH, (c) => c.text("ok"));
  app.get(READINESS_PATH, (c) => c.text("ok"));
  app.post("/", (c) => delivery(c.req.raw));
  return app;
}

export type { FunctionApp };
