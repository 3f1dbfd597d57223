import type { EventMode } from "../cloudevent/http-codec.ts";
import type { BackoffPolicy } from "./retry-policy.ts";

/**
 * A Knative DeliverySpec once read and resolved: what the retry loop needs, in milliseconds and URLs.
 * `retry` is the number of extra attempts (total attempts = retry + 1).
 */
export interface DeliveryPolicy {
  retry: number;
  backoffPolicy?: BackoffPolicy;
  backoffDelayMs?: number;
  /** Per attempt; undefined = no deadline (Knative's default client has none either). */
  timeoutMs?: number;
  /** Resolved URL of the dead-letter sink. */
  deadLetterSink?: string;
  /** The dead-letter sink's OIDC audience, when it has one: deliveries to it then carry a token for it. */
  deadLetterSinkAudience?: string;
  format: EventMode;
}

/** Knative's broker default (config-br-defaults) when neither the Broker nor the Trigger sets `delivery`. */
export const BROKER_DEFAULT_DELIVERY: DeliveryPolicy = {
  retry: 10,
  backoffPolicy: "exponential",
  backoffDelayMs: 200,
  format: "binary",
};

/** How PingSources (and other sources) send: 5 retries, exponential from 50 ms, no dead-letter sink. */
export const SOURCE_DELIVERY: DeliveryPolicy = {
  retry: 5,
  backoffPolicy: "exponential",
  backoffDelayMs: 50,
  format: "binary",
};
