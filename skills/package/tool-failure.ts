import type { ToolError, ToolErrorClass } from "../../eventing/catalog/shared.ts";

/**
 * A handler's way to answer with a typed tool error (DESIGN.md §4): thrown, caught by the runtime, replied as
 * `tool.completed` with `outcome.ok = false`. Messages reach the model: they name what failed, never a secret.
 */
export class ToolFailure extends Error {
  override name = "ToolFailure";
  readonly errorClass: ToolErrorClass;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    errorClass: ToolErrorClass,
    message: string,
    options: {
      retryable?: boolean;
      retryAfterSeconds?: number;
      details?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorClass = errorClass;
    this.retryable = options.retryable ?? DEFAULT_RETRYABLE[errorClass];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  toToolError(): ToolError {
    const error: ToolError = {
      class: this.errorClass,
      message: this.message.slice(0, 4096),
      retryable: this.retryable,
    };
    if (this.retryAfterSeconds !== undefined) error.retryAfterSeconds = this.retryAfterSeconds;
    if (this.details !== undefined) error.details = this.details;
    return error;
  }
}

/** Whether retrying the same call can help, unless the thrower knows better. */
export const DEFAULT_RETRYABLE: Readonly<Record<ToolErrorClass, boolean>> = {
  ValidationFailed: false,
  NotFound: false,
  Conflict: true,
  PermissionDenied: false,
  AuthExpired: false,
  RateLimited: true,
  Timeout: true,
  Unavailable: true,
  Internal: false,
};

export function isToolFailure(error: unknown): error is ToolFailure {
  return error instanceof ToolFailure;
}
