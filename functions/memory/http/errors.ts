import type { z } from "zod";
import type { ErrorBody, ErrorCode, ErrorIssue } from "../../../clients/memory/contract/errors.ts";

/** A failure with its HTTP status and wire error code; the app's error handler turns it into the error body. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly issues?: ErrorIssue[];
  readonly currentVersion?: number;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    extra: { issues?: ErrorIssue[]; currentVersion?: number } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = extra.issues;
    this.currentVersion = extra.currentVersion;
  }
}

function errorBody(error: HttpError): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.issues ? { issues: error.issues } : {}),
      ...(error.currentVersion !== undefined ? { currentVersion: error.currentVersion } : {}),
    },
  };
}

export function errorResponse(error: HttpError): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (error.status === 401) headers["www-authenticate"] = 'Bearer realm="knclaw-memory"';
  if (error.status === 503) headers["retry-after"] = "1";
  return new Response(JSON.stringify(errorBody(error)), { status: error.status, headers });
}

/** 400 with every zod issue as a dotted path (`messages.0.id`), prefixed by where the value came from. */
export function invalid(where: string | undefined, error: z.ZodError): HttpError {
  const issues = error.issues.map((issue) => ({
    path: [...(where ? [where] : []), ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  const first = issues[0];
  return new HttpError(
    400,
    "invalid_request",
    first ? `${first.path || "body"}: ${first.message}` : "invalid request",
    {
      issues,
    },
  );
}

export const notFound = (what: string) => new HttpError(404, "not_found", `${what} not found`);
