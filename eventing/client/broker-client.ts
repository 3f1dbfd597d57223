import { type HttpClient, HttpClientError, sharedHttpClient } from "../../runtime/http/client.ts";
import { platformEnv } from "../../runtime/platform-env.ts";
import { outgoingCarrier } from "../../runtime/trace-context.ts";
import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../catalog/attributes.ts";
import { ceOverrideAttributeName, ceOverrideNameProblem } from "../cloudevent/ce-overrides.ts";
import { type CloudEvent, withAttributes } from "../cloudevent/event.ts";
import { type EventMode, encodeEvent } from "../cloudevent/http-codec.ts";
import { backoffDelayMs, isRetryableStatus, retryAfterMs } from "../delivery/retry-policy.ts";
import { EXT_SIGNATURE } from "../trust/signing-input.ts";
import { IdentityTokenFile } from "./identity-token.ts";

/** Where a producer emits: the broker client, or a recorder in tests. */
export interface EventSink {
  emit(event: CloudEvent): Promise<void>;
}

/**
 * How a function sends events: to the broker named by K_SINK (a SinkBinding sets it), with the K_CE_OVERRIDES
 * extensions applied, trace context propagated, and retries by Knative's rules (sources retry 5 times, exponential
 * from 50 ms). An emit resolves only once the broker accepted the event, so callers can ack upstream safely.
 * Events go out on the process's shared HTTP client unless a `fetch` is injected (`knclaw dev` routes cluster URLs
 * to in-process apps that way, tests record calls).
 */
export interface BrokerClientOptions {
  sink: string;
  /** K_CE_OVERRIDES: JSON `{"extensions": {...}}` applied to every event. */
  overrides?: string;
  /** Send through this instead of HTTP. */
  fetch?: typeof fetch;
  /** The HTTP client to send through when no `fetch` is given. Default: the process's shared client. */
  http?: HttpClient;
  retries?: number;
  backoffDelayMs?: number;
  timeoutMs?: number;
  /** Cap on a broker-requested Retry-After, so one answer cannot park a producer for long. */
  maxRetryAfterMs?: number;
  mode?: EventMode;
  /**
   * KNCLAW_OIDC_TOKEN_FILE: this function's identity token, sent as `Authorization: Bearer` with every event, as a
   * Knative source presents its OIDC token to the Broker (identity-token.ts). Without it events carry no token.
   */
  tokenFile?: string;
}

export class BrokerEmitError extends Error {
  readonly status: number | undefined;
  readonly attempts: number;
  constructor(message: string, status: number | undefined, attempts: number) {
    super(message);
    this.name = "BrokerEmitError";
    this.status = status;
    this.attempts = attempts;
  }
}

/** The extensions a producer's signature covers (eventing/trust/signing-input.ts). */
const isSigned = (name: string) => name.startsWith("knclaw");

function parseCeOverrides(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("K_CE_OVERRIDES is not valid JSON");
  }
  const extensions = (parsed as { extensions?: unknown } | null)?.extensions ?? {};
  if (typeof extensions !== "object" || extensions === null || Array.isArray(extensions)) {
    throw new Error("K_CE_OVERRIDES.extensions must be an object");
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(extensions)) {
    const problem = ceOverrideNameProblem(name);
    if (problem) throw new Error(`K_CE_OVERRIDES: ${problem.message}`);
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new Error(`K_CE_OVERRIDES: extension "${name}" must be a string, number or boolean`);
    }
    out[ceOverrideAttributeName(name)] = String(value);
  }
  return out;
}

export class BrokerClient {
  readonly sink: string;
  private readonly overrides: Record<string, string>;
  private readonly post: (body: Uint8Array | undefined, headers: Record<string, string>) => Promise<Answer>;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly mode: EventMode;
  private readonly identity: IdentityTokenFile | undefined;

  constructor(options: BrokerClientOptions) {
    if (!options.sink) throw new Error("no sink: K_SINK is not set (a SinkBinding or knclaw dev sets it)");
    this.sink = options.sink;
    this.overrides = parseCeOverrides(options.overrides);
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffDelayMs ?? 50;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
    this.mode = options.mode ?? "binary";
    this.identity = options.tokenFile === undefined ? undefined : new IdentityTokenFile(options.tokenFile);
    this.post = options.fetch
      ? postWithFetch(options.fetch, this.sink, this.timeoutMs)
      : postWithClient(options.http ?? sharedHttpClient(), this.sink, this.timeoutMs);
  }

  static fromEnv(env: Readonly<Record<string, string | undefined>>, options: Partial<BrokerClientOptions> = {}) {
    return new BrokerClient({
      sink: env.K_SINK ?? "",
      overrides: env.K_CE_OVERRIDES,
      tokenFile: platformEnv.read(env, "oidcTokenFile"),
      ...options,
    });
  }

  /** Post one event; resolves when the broker answered 2xx, rejects with BrokerEmitError after the last attempt. */
  async emit(event: CloudEvent, trace?: { traceparent?: string; tracestate?: string }): Promise<void> {
    if (event.attributes[EXT_SIGNATURE] !== undefined && Object.keys(this.overrides).some(isSigned)) {
      // Overriding what the producer signed would only have the event refused wherever it arrives: say so here.
      throw new BrokerEmitError(
        "K_CE_OVERRIDES sets a knclaw extension, which would break the event's signature",
        undefined,
        0,
      );
    }
    // The sending span is the next hop's parent whenever it continues the event's trace (runtime/trace-context.ts).
    const carrier = outgoingCarrier({
      traceparent: event.attributes[EXT_TRACEPARENT] ?? trace?.traceparent,
      tracestate: event.attributes[EXT_TRACESTATE] ?? trace?.tracestate,
    });
    const prepared = withAttributes(event, {
      ...this.overrides,
      [EXT_TRACEPARENT]: carrier.traceparent,
      [EXT_TRACESTATE]: carrier.tracestate,
    });
    const { headers, body } = encodeEvent(prepared, this.mode);
    const traceparent = prepared.attributes[EXT_TRACEPARENT];
    if (traceparent !== undefined) headers.traceparent = traceparent;
    let lastStatus: number | undefined;
    let lastError = "";
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      let wait = backoffDelayMs("exponential", this.backoffMs, attempt + 1);
      try {
        // Read at every attempt: a token the kubelet rotated while this event was being retried is picked up.
        if (this.identity) headers.authorization = `Bearer ${await this.identity.current()}`;
        const answer = await this.post(body, headers);
        if (answer.status >= 200 && answer.status < 300) return;
        lastStatus = answer.status;
        lastError = `HTTP ${answer.status}`;
        if (!isRetryableStatus(answer.status)) break;
        const asked = retryAfterMs(answer.retryAfter);
        if (asked !== undefined) wait = Math.max(wait, Math.min(asked, this.maxRetryAfterMs));
      } catch (error) {
        lastStatus = undefined;
        // The kind of failure, never its message: a message may quote the sink URL.
        lastError =
          error instanceof HttpClientError ? error.kind : error instanceof Error ? error.name : "network error";
      }
      if (attempt < this.retries && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    throw new BrokerEmitError(
      `broker did not accept event ${prepared.attributes.id}: ${lastError}`,
      lastStatus,
      this.retries + 1,
    );
  }
}

/** What an emit needs from the broker's answer. */
interface Answer {
  status: number;
  retryAfter: string | null;
}

function postWithClient(client: HttpClient, sink: string, timeoutMs: number) {
  return async (body: Uint8Array | undefined, headers: Record<string, string>): Promise<Answer> => {
    // Events are de-duplicated by id, so a POST that met a just-closed keep-alive connection may go out again.
    const response = await client.request({
      url: sink,
      method: "POST",
      headers,
      body,
      timeoutMs,
      discardBody: true,
      replayable: true,
    });
    return { status: response.status, retryAfter: response.headers.get("retry-after") };
  };
}

function postWithFetch(fetchImpl: typeof fetch, sink: string, timeoutMs: number) {
  return async (body: Uint8Array | undefined, headers: Record<string, string>): Promise<Answer> => {
    // One timer per attempt, cleared once the broker answered: AbortSignal.timeout would keep every emit's timer (and
    // the request it can abort) alive for the whole timeout.
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("the broker did not answer in time", "TimeoutError")),
      timeoutMs,
    );
    try {
      const response = await fetchImpl(sink, {
        method: "POST",
        headers,
        body: body as ConstructorParameters<typeof Response>[0],
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, retryAfter: response.headers.get("retry-after") };
    } finally {
      clearTimeout(timer);
    }
  };
}
