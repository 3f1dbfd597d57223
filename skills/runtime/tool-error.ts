import type { ToolError, ToolErrorClass } from "../../eventing/catalog/shared.ts";

/**
 * A handler throws a ToolFailure to answer with a typed error (ARCHITECTURE.md, "Typed tool errors"); anything else it
 * throws becomes `Internal`. The message reaches the model, so it must not carry secrets.
 */
const RETRYABLE_BY_DEFAULT: Record<ToolErrorClass, boolean> = {
  ValidationFailed: false,
  NotFound: false,
  Conflict: false,
  PermissionDenied: false,
  AuthExpired: true,
  RateLimited: true,
  Timeout: true,
  Unavailable: true,
  Internal: false,
};

export interface ToolFailureOptions {
  retryable?: boolean;
  retryAfterSeconds?: number;
  details?: Record<string, unknown>;
}

export class ToolFailure extends Error {
  readonly errorClass: ToolErrorClass;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(errorClass: ToolErrorClass, message: string, options: ToolFailureOptions = {}) {
    super(message);
    this.name = "ToolFailure";
    this.errorClass = errorClass;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT[errorClass];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  toToolError(): ToolError {
    return toolError(this.errorClass, this.message, {
      retryable: this.retryable,
      retryAfterSeconds: this.retryAfterSeconds,
      details: this.details,
    });
  }
}

const MAX_MESSAGE = 4096;

export function toolError(errorClass: ToolErrorClass, message: string, options: ToolFailureOptions = {}): ToolError {
  const error: ToolError = {
    class: errorClass,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
    retryable: options.retryable ?? RETRYABLE_BY_DEFAULT[errorClass],
  };
  if (options.retryAfterSeconds !== undefined) error.retryAfterSeconds = options.retryAfterSeconds;
  if (options.details !== undefined) error.details = options.details;
  return error;
}

/** Shorthands handlers use: `throw fail.notFound("pod web-1 not found")`. */
export const fail = {
  validation: (message: string, options?: ToolFailureOptions) => new ToolFailure("ValidationFailed", message, options),
  notFound: (message: string, options?: ToolFailureOptions) => new ToolFailure("NotFound", message, options),
  conflict: (message: string, options?: ToolFailureOptions) => new ToolFailure("Conflict", message, options),
  permissionDenied: (message: string, options?: ToolFailureOptions) =>
    new ToolFailure("PermissionDenied", message, options),
  authExpired: (message: string, options?: ToolFailureOptions) => new ToolFailure("AuthExpired", message, options),
  rateLimited: (message: string, retryAfterSeconds?: number, options?: ToolFailureOptions) =>
    new ToolFailure("RateLimited", message, { ...options, retryAfterSeconds }),
  timeout: (message: string, options?: ToolFailureOptions) => new ToolFailure("Timeout", message, options),
  unavailable: (message: string, options?: ToolFailureOptions) => new ToolFailure("Unavailable", message, options),
  internal: (message: string, options?: ToolFailureOptions) => new ToolFailure("Internal", message, options),
};

/** Whatever a handler threw, as a typed error; unexpected throws never leak their message (it may hold secrets). */
export function asToolError(thrown: unknown): ToolError {
  if (thrown instanceof ToolFailure) return thrown.toToolError();
  return toolError("Internal", "the tool failed unexpectedly");
}
