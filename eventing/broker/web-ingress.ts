import { readBodyLimited } from "../cloudevent/body.ts";
import type { Ingress } from "./ingress.ts";

/** The ingress as a Web-standard handler: how in-process senders (a Trigger whose subscriber is a Broker) reach it. */
export async function serveIngressOnWeb(ingress: Ingress, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const response = await ingress.handle({
    method: request.method,
    path: url.pathname,
    headers: request.headers,
    readBody: (maxBytes) => readBodyLimited(request, maxBytes),
    discardBody: () => {
      void request.body?.cancel().catch(() => undefined);
    },
  });
  return new Response(response.status === 202 || response.body === "" ? null : response.body, {
    status: response.status,
    headers: response.headers,
  });
}
