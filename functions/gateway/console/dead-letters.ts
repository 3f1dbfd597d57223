import type { DeadLetter, ListDeadLettersResponse } from "../../../clients/memory/contract/dead-letters.ts";
import { ApiError } from "../../../runtime/api-error.ts";
import { type HttpClient, sharedHttpClient } from "../../../runtime/http/client.ts";

/**
 * The deadletter function's operator API (functions/deadletter/api.ts), reached server-side with its bearer token
 * (KNCLAW_DEADLETTER_TOKEN, the same Secret key the function reads): the browser never sees that token.
 */
export class DeadLetterApi {
  private readonly base: string;
  private readonly token: string;
  private readonly http: HttpClient;

  constructor(baseUrl: string, token: string, http: HttpClient = sharedHttpClient()) {
    this.base = baseUrl.replace(/\/+$/, "");
    this.token = token;
    this.http = http;
  }

  async list(cursor?: string): Promise<ListDeadLettersResponse> {
    const query = new URLSearchParams({ limit: "50", ...(cursor ? { cursor } : {}) });
    return (await this.call("GET", `/v1/deadletters?${query}`)) as ListDeadLettersResponse;
  }

  async get(id: string): Promise<DeadLetter> {
    return ((await this.call("GET", `/v1/deadletters/${encodeURIComponent(id)}`)) as { deadLetter: DeadLetter })
      .deadLetter;
  }

  async replay(id: string): Promise<void> {
    await this.call("POST", `/v1/deadletters/${encodeURIComponent(id)}/replay`);
  }

  async discard(id: string): Promise<void> {
    await this.call("DELETE", `/v1/deadletters/${encodeURIComponent(id)}`);
  }

  private async call(method: string, path: string): Promise<unknown> {
    let response: Awaited<ReturnType<HttpClient["request"]>>;
    try {
      response = await this.http.request({
        url: `${this.base}${path}`,
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: "application/json" },
        timeoutMs: 10_000,
        maxResponseBytes: 16 * 1024 * 1024,
      });
    } catch {
      throw new ApiError(503, "unavailable", "the dead-letter sink did not answer");
    }
    const text = new TextDecoder().decode(response.body);
    if (response.status === 204) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status >= 200 && response.status < 300) return body;
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    // The sink's own answer (404 no such dead letter, 502 the broker refused a replay) is what the operator needs.
    throw new ApiError(
      response.status === 401 || response.status === 403 ? 503 : response.status,
      error?.code ?? "deadletter_error",
      response.status === 401 || response.status === 403
        ? "the gateway's dead-letter token is not accepted by the dead-letter sink"
        : (error?.message ?? `the dead-letter sink answered ${response.status}`),
    );
  }
}
