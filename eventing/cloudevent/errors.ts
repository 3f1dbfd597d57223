import { ApiError } from "../../runtime/api-error.ts";

/**
 * A request that cannot be accepted as a CloudEvent; `status` is the HTTP status Knative's ingress answers with. For
 * 413 the rest of the body is read only up to a bound (body.ts, drainAllowance), so the connection is closed rather
 * than left holding an unread upload (which would also stall a graceful shutdown); the close lingers, bounded, so
 * that the client reads the 413 before the connection goes (runtime/http/lingering-close.ts).
 */
export class CloudEventError extends ApiError {
  constructor(status: number, message: string) {
    super(status, status === 413 ? "payload_too_large" : "invalid_event", message, {
      headers: status === 413 ? { connection: "close" } : {},
    });
    this.name = "CloudEventError";
  }
}

export const badRequest = (message: string) => new CloudEventError(400, message);
