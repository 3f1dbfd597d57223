/**
 * OpenClaw's heartbeat convention: a scheduled check answers with a token (HEARTBEAT_OK) when there is nothing to
 * report. The token at the start or end of the answer is stripped; if what remains is short, nothing is sent.
 */
export function isQuietHeartbeat(text: string, token: string, ackMaxChars: number): boolean {
  const trimmed = text.trim();
  let rest: string;
  if (trimmed.startsWith(token)) rest = trimmed.slice(token.length);
  else if (trimmed.endsWith(token)) rest = trimmed.slice(0, trimmed.length - token.length);
  else return false;
  return rest.replace(/^[\s.:,!-]+|[\s.:,!-]+$/g, "").length <= ackMaxChars;
}
