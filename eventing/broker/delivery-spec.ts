import { parseIsoDuration } from "../../runtime/duration.ts";
import { BROKER_DEFAULT_DELIVERY, type DeliveryPolicy } from "../delivery/delivery-policy.ts";
import { destinationAudience, resolveDestination } from "./destination.ts";
import { isRecord, ObjectError } from "./objects.ts";

/**
 * Read a Knative DeliverySpec (duckv1.DeliverySpec) into a DeliveryPolicy, with the webhook's rules
 * (pkg/apis/duck/v1/delivery_validation.go): retry >= 0, backoffPolicy linear|exponential, ISO-8601 durations,
 * a positive timeout, a resolvable dead-letter sink. `retryAfterMax` is accepted and, like Knative without the
 * delivery-retryafter feature flag, not acted on.
 */
const FIELDS = new Set([
  "retry",
  "backoffPolicy",
  "backoffDelay",
  "timeout",
  "deadLetterSink",
  "format",
  "retryAfterMax",
]);

export function readDeliverySpec(spec: unknown, namespace: string, object: string, path: string): DeliveryPolicy {
  if (!isRecord(spec)) throw new ObjectError(object, path, "delivery", "must be an object");
  for (const key of Object.keys(spec)) {
    if (!FIELDS.has(key)) throw new ObjectError(object, `${path}.${key}`, "delivery-field", "unknown field");
  }
  const policy: DeliveryPolicy = { retry: 0, format: "binary" };
  if (spec.retry !== undefined) {
    if (typeof spec.retry !== "number" || !Number.isInteger(spec.retry) || spec.retry < 0) {
      throw new ObjectError(object, `${path}.retry`, "delivery-retry", "must be an integer >= 0");
    }
    policy.retry = spec.retry;
  }
  if (spec.backoffPolicy !== undefined) {
    if (spec.backoffPolicy !== "linear" && spec.backoffPolicy !== "exponential") {
      throw new ObjectError(
        object,
        `${path}.backoffPolicy`,
        "delivery-backoff-policy",
        'must be "linear" or "exponential"',
      );
    }
    policy.backoffPolicy = spec.backoffPolicy;
  }
  if (spec.backoffDelay !== undefined) {
    policy.backoffDelayMs = duration(spec.backoffDelay, object, `${path}.backoffDelay`, false);
  }
  if (spec.timeout !== undefined) policy.timeoutMs = duration(spec.timeout, object, `${path}.timeout`, true);
  if (spec.retryAfterMax !== undefined) duration(spec.retryAfterMax, object, `${path}.retryAfterMax`, false);
  if (spec.format !== undefined) {
    if (spec.format !== "json" && spec.format !== "binary") {
      throw new ObjectError(object, `${path}.format`, "delivery-format", 'must be "json" (structured) or "binary"');
    }
    policy.format = spec.format === "json" ? "structured" : "binary";
  }
  if (spec.deadLetterSink !== undefined) {
    policy.deadLetterSink = resolveDestination(spec.deadLetterSink, namespace, object, `${path}.deadLetterSink`);
    const audience = destinationAudience(spec.deadLetterSink, namespace, object, `${path}.deadLetterSink`);
    if (audience !== undefined) policy.deadLetterSinkAudience = audience;
  }
  // Without both a policy and a delay the dispatcher retries immediately (generateBackoffFn in retries.go).
  if (policy.backoffPolicy === undefined || policy.backoffDelayMs === undefined) {
    delete policy.backoffPolicy;
    delete policy.backoffDelayMs;
  }
  return policy;
}

function duration(value: unknown, object: string, path: string, positive: boolean): number {
  const parsed = typeof value === "string" ? parseIsoDuration(value) : undefined;
  if (!parsed)
    throw new ObjectError(
      object,
      path,
      "delivery-duration",
      `${JSON.stringify(value)} is not an ISO-8601 duration such as PT0.2S`,
    );
  if (parsed.ms < 0 || (positive && parsed.ms === 0)) {
    throw new ObjectError(
      object,
      path,
      "delivery-duration",
      positive ? "must be greater than zero" : "must not be negative",
    );
  }
  return parsed.ms;
}

/**
 * The delivery that applies to a Trigger: its own `delivery`, when set at all, replaces the Broker's wholesale
 * (its dead-letter sink wins); else the Broker's; else Knative's broker default.
 */
export function effectiveDelivery(
  trigger: DeliveryPolicy | undefined,
  broker: DeliveryPolicy | undefined,
): DeliveryPolicy {
  return trigger ?? broker ?? BROKER_DEFAULT_DELIVERY;
}
