import { z } from "zod";

/** The body of every error answer of the memory service. */

const ERROR_CODES = [
  "invalid_json",
  "invalid_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "cap_exceeded",
  "version_mismatch",
  "payload_too_large",
  "unsupported_media_type",
  "too_many_pending",
  "unavailable",
  "internal",
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorIssue = z.object({ path: z.string(), message: z.string() });
export type ErrorIssue = z.infer<typeof ErrorIssue>;

export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    issues: z.array(ErrorIssue).optional(),
    /** On `version_mismatch`: the version the resource has now. */
    currentVersion: z.int().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
