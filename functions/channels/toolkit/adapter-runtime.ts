import { InFlightError } from "../../../clients/memory/run-once.ts";
import type { ChannelType } from "../../../eventing/catalog/shared.ts";
import type { EventSink } from "../../../eventing/client/broker-client.ts";
import { BrokerClient } from "../../../eventing/client/broker-client.ts";
import { readBodyLimited } from "../../../eventing/cloudevent/body.ts";
import { CloudEventError } from "../../../eventing/cloudevent/errors.ts";
import { eventSignerFromEnv, trustedProducersFromEnv } from "../../../eventing/trust/env.ts";
import { type EventTrust, verifyingTrust } from "../../../eventing/trust/event-trust.ts";
import { channelRole } from "../../../eventing/trust/roles.ts";
import { signingSink } from "../../../eventing/trust/signing-sink.ts";
import { ApiError, errorResponse, toApiError } from "../../../runtime/api-error.ts";
import { EnvError } from "../../../runtime/env-contract.ts";
import { createLogger } from "../../../runtime/log.ts";
import type { ChannelAdapterConfig } from "./config.ts";
import { channelConfigFromEnv } from "./env.ts";
import type { InboundContext } from "./inbound.ts";
import { channelStateFromEnv } from "./memory-state.ts";
import type { ChannelState } from "./state.ts";

/**
 * What every adapter's `createApp(env)` assembles: its routing/access config, the shared state, the broker sink and
 * the HTTP plumbing common to all inbound webhooks (bounded raw-body reads, answering within the platform's deadline).
 */
export type AdapterEnv = Readonly<Record<string, string | undefined>>;

/** Collaborators a test or `knclaw dev` may hand in instead of building them from the environment. */
export interface AdapterDeps {
  state?: ChannelState;
  sink?: EventSink;
  /** Used for platform API calls (tests count or fail them). */
  fetch?: typeof fetch;
  now?: () => number;
}

export interface AdapterRuntime {
  channel: ChannelType;
  config: ChannelAdapterConfig;
  state: ChannelState;
  /** Signs every event as `channel/<type>` (eventing/trust/). */
  sink: EventSink;
  /** What a broker delivery must prove before the adapter posts anything (eventing/trust/event-trust.ts). */
  trust: EventTrust;
  fetch: typeof fetch;
  now: () => number;
  inbound: InboundContext;
}

/** Largest inbound webhook body an adapter reads: platform payloads are small; anything bigger is refused with 413. */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

export function requireEnv(env: AdapterEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") throw new EnvError(`${name} is not set`);
  return value;
}

export function createAdapterRuntime(
  channel: ChannelType,
  env: AdapterEnv,
  deps: AdapterDeps,
  options: { dedupKeepSeconds: number },
): AdapterRuntime {
  const config = channelConfigFromEnv(env);
  const state = deps.state ?? channelStateFromEnv(env, channel);
  // An emit must not outlive the platform's patience by much: a few quick retries, then the platform retries us.
  const sink = signingSink(
    deps.sink ?? BrokerClient.fromEnv(env, { retries: 3, backoffDelayMs: 50, timeoutMs: 5_000 }),
    eventSignerFromEnv(env, channelRole(channel)),
  );
  const log = createLogger(env, `channel-${channel}`);
  const trust = verifyingTrust(trustedProducersFromEnv(env), log);
  const now = deps.now ?? Date.now;
  return {
    channel,
    config,
    state,
    sink,
    trust,
    fetch: deps.fetch ?? fetch,
    now,
    inbound: {
      channel,
      source: `/knclaw/channels/${channel}`,
      config,
      state,
      sink,
      dedupKeepSeconds: options.dedupKeepSeconds,
      now: () => new Date(now()),
      log,
    },
  };
}

/** The raw request bytes, bounded: 413 for an oversized body, before anything is parsed or verified. */
export function readWebhookBody(request: Request, maxBytes: number = MAX_WEBHOOK_BYTES): Promise<Uint8Array> {
  return readBodyLimited(request, maxBytes);
}

/** A webhook that fails verification learns nothing about why. */
export const unauthorized = () => new Response(null, { status: 401 });
export const badRequest = (message: string) => errorResponse(new ApiError(400, "invalid_request", message));

/**
 * Run `work` but answer by `deadlineMs` at the latest. When the work finishes in time, its response is the answer;
 * otherwise the platform gets `503` so that it retries, while the work keeps going: the retry then finds the
 * delivery done (or still in flight, and is told to retry again). Nothing accepted is lost either way.
 */
export async function answerWithin(deadlineMs: number, work: () => Promise<Response>): Promise<Response> {
  const running = work().catch((error: unknown) => inboundErrorResponse(error));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Response>((resolve) => {
    timer = setTimeout(() => resolve(new Response(null, { status: 503, headers: { "retry-after": "1" } })), deadlineMs);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How an inbound webhook's failure is answered: malformed or oversized input is the sender's fault (its 400/413,
 * never retried by a sane platform); everything else (broker down, memory service down, another attempt in flight)
 * is ours and gets a 503 the platform retries. A broker delivery answers an attempt in flight with 409 instead.
 */
export function inboundErrorResponse(error: unknown): Response {
  if (error instanceof CloudEventError && error.status < 500) return errorResponse(error);
  if (error instanceof InFlightError) return new Response(null, { status: 503, headers: { "retry-after": "5" } });
  // The memory service's own Retry-After when it named one (toApiError asks the error), else soon.
  const retryAfter = toApiError(error).headers["retry-after"] ?? "1";
  return new Response(null, { status: 503, headers: { "retry-after": retryAfter } });
}

export function parseJsonBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new CloudEventError(400, "body is not valid JSON");
  }
}
