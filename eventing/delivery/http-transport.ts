import { createHttpClient, type HttpClient, HttpClientError } from "../../runtime/http/client.ts";
import { type Transport, TransportError, type TransportRequest, type TransportResponse } from "./transport.ts";

export interface HttpTransportOptions {
  /** Connections per origin; Knative's broker filter keeps 100 idle connections per host. */
  maxSocketsPerHost?: number;
  /** Deliver through this client instead of one of the transport's own (close() then leaves it open). */
  client?: HttpClient;
}

export interface HttpTransport extends Transport {
  close(): Promise<void>;
}

/**
 * Deliveries over HTTP(S) on the shared client (undici, keep-alive). A delivery is a POST that subscribers must
 * de-duplicate by event id, so a request that met a kept-alive connection the subscriber had just closed is sent
 * again on a new one, as Knative's Go client does. Requests that undici refuses before sending (a header value that
 * would inject another header, say) fail as network errors, like any delivery that got no response.
 */
export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const client = options.client ?? createHttpClient({ connectionsPerOrigin: options.maxSocketsPerHost ?? 100 });
  const owned = options.client === undefined;

  const send = async (request: TransportRequest): Promise<TransportResponse> => {
    try {
      return await client.request({
        url: request.url,
        method: "POST",
        headers: request.headers,
        body: request.body,
        timeoutMs: request.timeoutMs,
        signal: request.signal,
        maxResponseBytes: request.maxResponseBytes,
        replayable: true,
      });
    } catch (error) {
      if (!(error instanceof HttpClientError)) throw error;
      throw new TransportError(error.kind === "invalid-request" ? "network" : error.kind, error.message);
    }
  };

  return Object.assign(send, {
    close: () => (owned ? client.close() : Promise.resolve()),
  });
}
