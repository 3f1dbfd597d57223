import { Hono } from "hono";
import { deliveryAuthentication } from "../../../runtime/delivery-auth.ts";
import type { FunctionApp, FunctionEnv } from "../../../runtime/function.ts";

/**
 * The in-process subscriber of the broker benchmark, mounted by `knclaw dev` like any ksvc (`knclaw.dev/entry`).
 * Arrivals go to a module-level hook the benchmark (same thread, same module instance) installs. With a delivery
 * audience in its env (knclaw dev with OIDC on) it checks every delivery's token first, with the function runtime's
 * own check, so the tokens-on row measures what a knclaw function pays.
 */
export const arrivals: { onEvent: (id: string) => void } = { onEvent: () => undefined };

export function createApp(env: FunctionEnv = {}): FunctionApp {
  const arrive = (request: Request) => {
    if (request.method === "POST") arrivals.onEvent(request.headers.get("ce-id") ?? "");
    return new Response(null, { status: 200 });
  };
  const authenticate = deliveryAuthentication(env);
  if (authenticate === undefined) return { fetch: arrive };
  const app = new Hono();
  app.post("/", authenticate, (c) => arrive(c.req.raw));
  return app;
}
