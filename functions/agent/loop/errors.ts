/** The step could not finish now but may later (model rate limit, memory service down): the broker should redeliver. */
export class RetryLater extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.name = "RetryLater";
    this.retryAfterSeconds = Math.max(0, Math.ceil(retryAfterSeconds));
  }
}

/** The event cannot be processed ever (wrong instance, invalid ids): answered 400, not retried. */
export class RejectedEvent extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RejectedEvent";
  }
}
