/**
 * The one error type of a function's answers, on its APIs and on its broker-delivery route alike: a status, a code
 * for programs, a message for people (never carrying a secret), headers such as Retry-After or WWW-Authenticate,
 * and details that belong in the body (a validation's issues, a conflict's current version).
 *
 * Errors of the layers above that have an HTTP meaning extend it, so that their status is decided where the error is
 * defined (a CloudEventError is its 400/413, an attempt already in flight is a 409, a platform's refusal is its own
 * status): `toApiError` is then the single mapping every function's error handler uses.
 */
export interface ApiErrorOptions {
  headers?: Record<string, string>;
  /** Sent as Retry-After, in whole seconds. */
  retryAfterSeconds?: number;
  /** Further fields of the body's `error` object. */
  details?: Record<string, unknown>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(status: number, code: string, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = {
      ...options.headers,
      ...(options.retryAfterSeconds === undefined
        ? {}
        : { "retry-after": String(Math.max(0, Math.ceil(options.retryAfterSeconds))) }),
    };
    this.details = options.details ?? {};
  }

  /** Whether the same request may succeed later: what Knative's dispatcher retries (408, 409, 429 and 5xx). */
  get retryable(): boolean {
    return this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

/** What an error nothing could name answers: nothing of its message reaches the caller. */
export const INTERNAL_ERROR: ApiError = new ApiError(500, "internal", "internal error");

/**
 * How an error that is not an ApiError may still name its answer: a client's error for a dependency, whose status is
 * the dependency's and not the caller's. The memory service being unavailable is the caller's 503 with the same
 * Retry-After; its 404 reaching the caller's error handler is the caller's bug, a 500.
 */
export const API_ANSWER: unique symbol = Symbol("knclaw.apiAnswer");

interface AnswersFor {
  [API_ANSWER](): ApiError | undefined;
}

function answersFor(error: unknown): error is AnswersFor {
  return typeof error === "object" && error !== null && API_ANSWER in error;
}

/**
 * The one error-to-answer mapping: an ApiError answers itself; anything else is first asked for its own answer
 * (API_ANSWER), then offered to the function's own translation (`answerFor`: the memory service's store being down
 * is a 503), and is otherwise a 500.
 */
export function toApiError(error: unknown, answerFor?: (error: unknown) => ApiError | undefined): ApiError {
  if (error instanceof ApiError) return error;
  return (answersFor(error) ? error[API_ANSWER]() : undefined) ?? answerFor?.(error) ?? INTERNAL_ERROR;
}

export type ErrorBody = { error: { code: string; message: string } & Record<string, unknown> };

export function errorBody(error: ApiError): ErrorBody {
  return { error: { ...error.details, code: error.code, message: error.message } };
}

/** The error as a JSON response; `body` replaces the standard body (the gateway's OpenAI-compatible endpoint). */
export function errorResponse(error: ApiError, body: unknown = errorBody(error)): Response {
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { "content-type": "application/json", ...error.headers },
  });
}
