/**
 * DeliverySpec (knative/eventing pkg/apis/duck/v1/delivery_types.go Validate): dead-letter sink a valid
 * Destination, retry >= 0, timeout a non-zero ISO-8601 duration (only with the delivery-timeout feature),
 * backoffPolicy linear|exponential, backoffDelay an ISO-8601 duration, format json|binary, retryAfterMax a
 * non-negative duration.
 */
import { parseIsoDuration } from "../../../runtime/duration.ts";
import type { WebhookOptions } from "../options.ts";
import { isObject, join, type ProblemSink } from "../problems.ts";
import { validateDestination } from "./destination.ts";

export function validateDelivery(
  value: unknown,
  path: string,
  sink: ProblemSink,
  options: WebhookOptions,
  parentNamespace?: string,
): void {
  if (value === undefined || value === null) return;
  if (!isObject(value)) {
    sink.error(path, "delivery", "must be an object");
    return;
  }
  if (value.deadLetterSink !== undefined)
    validateDestination(value.deadLetterSink, join(path, "deadLetterSink"), sink, parentNamespace);
  if (
    value.retry !== undefined &&
    (typeof value.retry !== "number" || value.retry < 0 || !Number.isInteger(value.retry))
  ) {
    sink.error(
      join(path, "retry"),
      "delivery-retry",
      `invalid value: ${String(value.retry)}: retry must be an integer >= 0`,
    );
  }
  if (value.timeout !== undefined) {
    if (!options.deliveryTimeout) {
      sink.error(
        join(path, "timeout"),
        "delivery-timeout",
        "must not set the field(s): timeout (the delivery-timeout feature is disabled)",
      );
    } else {
      const d = typeof value.timeout === "string" ? parseIsoDuration(value.timeout) : undefined;
      if (d === undefined || d.ms === 0) {
        sink.error(
          join(path, "timeout"),
          "iso8601-duration",
          `invalid value: ${String(value.timeout)}: a non-zero ISO-8601 duration such as PT30S`,
        );
      }
    }
  }
  if (value.backoffPolicy !== undefined && value.backoffPolicy !== "linear" && value.backoffPolicy !== "exponential") {
    sink.error(
      join(path, "backoffPolicy"),
      "delivery-backoff-policy",
      `invalid value: ${String(value.backoffPolicy)}: linear or exponential`,
    );
  }
  if (value.backoffDelay !== undefined) {
    if (typeof value.backoffDelay !== "string" || parseIsoDuration(value.backoffDelay) === undefined) {
      sink.error(
        join(path, "backoffDelay"),
        "iso8601-duration",
        `invalid value: ${String(value.backoffDelay)}: an ISO-8601 duration such as PT0.2S`,
      );
    }
  }
  if (value.format !== undefined && value.format !== "json" && value.format !== "binary") {
    sink.error(join(path, "format"), "delivery-format", `invalid value: ${String(value.format)}: json or binary`);
  }
  if (value.retryAfterMax !== undefined && !options.deliveryRetryAfter) {
    sink.error(
      join(path, "retryAfterMax"),
      "delivery-retry-after",
      "must not set the field(s): retryAfterMax (the delivery-retryafter feature is disabled)",
    );
  } else if (value.retryAfterMax !== undefined) {
    const d = typeof value.retryAfterMax === "string" ? parseIsoDuration(value.retryAfterMax) : undefined;
    if (d === undefined || d.negative) {
      sink.error(
        join(path, "retryAfterMax"),
        "iso8601-duration",
        `invalid value: ${String(value.retryAfterMax)}: a non-negative ISO-8601 duration`,
      );
    }
  }
}
