import type { SessionMessageInput } from "../../../clients/memory/contract/sessions.ts";

/**
 * A rough token count for budgets when the caller gives none: about four characters per token for English text,
 * tool calls included. Callers that know the model's count pass it in `tokens`.
 */
export function estimateTokens(message: Pick<SessionMessageInput, "content" | "toolCalls">): number {
  let characters = message.content.length;
  for (const call of message.toolCalls ?? []) characters += call.name.length + call.arguments.length;
  return Math.ceil(characters / 4);
}
