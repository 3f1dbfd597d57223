import { TOKEN_REALM } from "../../runtime/oidc/verifier.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../cloudevent/body.ts";
import { CloudEventError } from "../cloudevent/errors.ts";
import { decodeMessage, detectMode, type HeaderReader } from "../cloudevent/http-codec.ts";
import { printable } from "../cloudevent/validate.ts";
import { passThroughHeaders } from "../delivery/pass-through-headers.ts";
import type { EmbeddedBroker } from "./broker.ts";
import { traceIngress } from "./tracing.ts";

/**
 * Knative's broker ingress (pkg/broker/ingress/ingress_handler.go) over an abstract request, so the same rules
 * serve Node's HTTP server (node-ingress.ts) and in-process Web Requests (web-ingress.ts):
 * OPTIONS -> 200 with the WebHook headers; other non-POST -> 405; `/` -> 404; not exactly two path segments -> 400;
 * unknown broker -> 404; bad event -> 400; too large -> 413; with OIDC (the broker's admission): no or invalid token
 * -> 401, a sender no EventPolicy (or the default authorization mode) allows -> 403, checked once the event is decoded
 * as Knative does; TTL exhausted -> 400; queue full -> 429; the event could not be stored (durable broker) -> 503
 * with Retry-After; else 202.
 */
export interface IngressRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: HeaderReader;
  /** Reads the whole body; throws CloudEventError(413) past `maxBytes`, having drained a bounded part of the rest. */
  readBody(maxBytes: number): Promise<Uint8Array>;
  /** Called when the body will not be read, so the transport can discard it. */
  discardBody(): void;
}

export interface IngressResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface IngressOptions {
  maxBodyBytes?: number;
}

export type BrokerLookup = (namespace: string, name: string) => EmbeddedBroker | undefined;

const ALLOW = { allow: "POST, OPTIONS" };

export function createIngress(lookup: BrokerLookup, options: IngressOptions = {}) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let accepting = true;

  async function handle(request: IngressRequest): Promise<IngressResponse> {
    if (request.method === "OPTIONS") {
      request.discardBody();
      return {
        status: 200,
        headers: { ...ALLOW, "webhook-allowed-origin": "*", "webhook-allowed-rate": "*" },
        body: "",
      };
    }
    if (request.method !== "POST") {
      request.discardBody();
      return error(405, `method ${printable(request.method)} not allowed: POST events to /<namespace>/<broker>`);
    }
    if (request.path === "/" || request.path === "") {
      request.discardBody();
      return error(404, "not found: POST events to /<namespace>/<broker>");
    }
    const segments = request.path.replace(/\/$/, "").split("/");
    if (segments.length !== 3) {
      request.discardBody();
      return error(400, "malformed path: expected /<namespace>/<broker>");
    }
    const namespace = segments[1]!;
    const name = segments[2]!;
    const broker = lookup(namespace, name);
    if (!broker) {
      request.discardBody();
      return error(404, `no broker ${printable(namespace)}/${printable(name)}`);
    }
    if (!accepting) {
      request.discardBody();
      return { status: 503, headers: { ...ALLOW, connection: "close" }, body: "the broker is shutting down\n" };
    }
    try {
      const mode = detectMode(request.headers);
      if (mode === undefined) {
        request.discardBody();
        return error(
          400,
          "not a CloudEvent: no ce-specversion header and Content-Type is not application/cloudevents+json",
        );
      }
      if (mode === "batch") {
        request.discardBody();
        return error(400, "batched CloudEvents (application/cloudevents-batch+json) are not supported");
      }
      const body = await request.readBody(maxBodyBytes);
      const event = decodeMessage(mode, request.headers, body);
      // Only with OIDC on: the path without it stays as short as it was.
      const refusal = broker.admission && (await broker.admission.admit(request.headers.get("authorization"), event));
      if (refusal !== undefined) {
        broker.counters.rejected++;
        const refused = error(refusal.status, refusal.reason);
        if (refusal.status === 401) refused.headers["www-authenticate"] = `Bearer realm="${TOKEN_REALM}"`;
        return refused;
      }
      // A durable broker answers once the event's deliveries are stored: 202 means "on durable storage".
      const result = await traceIngress(broker, event, (traced) =>
        broker.ingest(traced, passThroughHeaders(request.headers)),
      );
      if (result.status === 202) return { status: 202, headers: ALLOW, body: "" };
      const refused = error(result.status, result.reason);
      // A full queue is 429, not 503: the broker is healthy but busy, and every Knative sender retries 429
      // (retries.go), honouring Retry-After where it can. A store that is down (503) is worth a retry soon too.
      if (result.status === 429 || result.status === 503) refused.headers["retry-after"] = "1";
      return refused;
    } catch (caught) {
      if (caught instanceof CloudEventError) {
        broker.counters.rejected++;
        const response = error(caught.status, caught.message);
        // Past the size limit the body was drained only so far (eventing/cloudevent/body.ts, drainAllowance): close
        // the connection rather than read on (on Node, the close lingers: runtime/http/lingering-close.ts).
        if (caught.status === 413) response.headers.connection = "close";
        return response;
      }
      throw caught;
    }
  }

  return {
    handle,
    /** Refuse outside events from now on (503), e.g. while shutting down. */
    stopAccepting() {
      accepting = false;
    },
  };
}

export type Ingress = ReturnType<typeof createIngress>;

function error(status: number, message: string): IngressResponse {
  return { status, headers: { ...ALLOW, "content-type": "text/plain; charset=utf-8" }, body: `${message}\n` };
}
