/**
 * How a function's JSON API answers a failure: `{ "error": { "code", "message" } }` with its status and headers such
 * as Retry-After. Messages are written for the caller and never carry secrets.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function errorBody(error: ApiError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}

export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify(errorBody(error)), {
    status: error.status,
    headers: { "content-type": "application/json", ...error.headers },
  });
}
