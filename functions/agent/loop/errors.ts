import { ApiError } from "../../../runtime/api-error.ts";

/**
 * The step could not finish now but may later (model rate limit, memory service down): answered 503 with Retry-After
 * so the broker redelivers. The reason is for the log; the broker is only told to come back.
 */
export class RetryLater extends ApiError {
  readonly reason: string;
  readonly retryAfterSeconds: number;
  constructor(reason: string, retryAfterSeconds = 1) {
    const seconds = Math.max(0, Math.ceil(retryAfterSeconds));
    super(503, "retry_later", "try again later", { retryAfterSeconds: seconds });
    this.name = "RetryLater";
    this.reason = reason;
    this.retryAfterSeconds = seconds;
  }
}

/** The event cannot be processed ever (wrong instance, invalid ids): answered 400, not retried. */
export class RejectedEvent extends ApiError {
  constructor(message: string) {
    super(400, "rejected_event", message);
    this.name = "RejectedEvent";
  }
}
