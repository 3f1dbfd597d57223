import type { ToolError } from "../../../eventing/catalog/shared.ts";
import type { CallResult } from "./state.ts";

/**
 * How tool answers reach the model. Output from a tool is content from outside the trust boundary: it is wrapped as
 * `{"untrusted": true, "source": ..., "content": ...}` (the catalog's UntrustedContent) and the system prompt says to
 * treat anything so marked as data, never as instructions. Errors carry their typed class so the model can react.
 */
/**
 * What one tool answer may take of the run document and the context window. Skills cap their own output (64 KiB by
 * default); this bounds what an external skill or a generous cap can push into every later model call.
 */
export const MAX_RESULT_CHARS = 32 * 1024;

export function successResult(ref: string, result: unknown): CallResult {
  const content = JSON.stringify({ untrusted: true, source: `tool:${ref}`, content: result ?? null });
  if (content.length <= MAX_RESULT_CHARS) return { content, isError: false };
  // Too long for the context: the model gets the beginning as text and is told it was cut.
  const text = JSON.stringify(result ?? null).slice(0, MAX_RESULT_CHARS - 256);
  return {
    content: JSON.stringify({
      untrusted: true,
      source: `tool:${ref}`,
      truncated: true,
      originalChars: content.length,
      content: text,
    }),
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
