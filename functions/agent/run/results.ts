import type { ToolError } from "../../../eventing/catalog/shared.ts";
import type { CallResult } from "./state.ts";

/**
 * How tool answers reach the model. Output from a tool is content from outside the trust boundary: it is wrapped as
 * `{"untrusted": true, "source": ..., "content": ...}` (the catalog's UntrustedContent) and the system prompt says to
 * treat anything so marked as data, never as instructions. Errors carry their typed class so the model can react.
 */
export function successResult(ref: string, result: unknown): CallResult {
  return {
    content: JSON.stringify({ untrusted: true, source: `tool:${ref}`, content: result ?? null }),
    isError: false,
  };
}

export function errorResult(source: string, error: ToolError): CallResult {
  const shown: Record<string, unknown> = { class: error.class, message: error.message, retryable: error.retryable };
  if (error.retryAfterSeconds !== undefined) shown.retryAfterSeconds = error.retryAfterSeconds;
  if (error.details !== undefined) shown.details = error.details;
  // A skill's error message is as untrusted as its output.
  return {
    content: JSON.stringify({ untrusted: source.startsWith("tool:"), source, error: shown }),
    isError: true,
    errorClass: error.class,
  };
}
