import type { z } from "zod";
import type { ErrorCode, ErrorIssue } from "../../../clients/memory/contract/errors.ts";
import { ApiError } from "../../../runtime/api-error.ts";

/**
 * The memory service's answers are the function runtime's ApiError with one of the service's wire codes
 * (clients/memory/contract/errors.ts), so the client can rely on the code; `issues` and `currentVersion` go into the
 * error body beside code and message.
 */
export function memoryError(
  status: number,
  code: ErrorCode,
  message: string,
  details: { issues?: ErrorIssue[]; currentVersion?: number } = {},
): ApiError {
  return new ApiError(status, code, message, { details });
}

/** 400 with every zod issue as a dotted path (`messages.0.id`), prefixed by where the value came from. */
export function invalid(where: string | undefined, error: z.ZodError): ApiError {
  const issues = error.issues.map((issue) => ({
    path: [...(where ? [where] : []), ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  const first = issues[0];
  return memoryError(400, "invalid_request", first ? `${first.path || "body"}: ${first.message}` : "invalid request", {
    issues,
  });
}

export const notFound = (what: string) => memoryError(404, "not_found", `${what} not found`);
