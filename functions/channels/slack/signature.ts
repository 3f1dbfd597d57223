import { verifyHmacSha256Hex } from "../../../runtime/signatures.ts";
import { withinReplayWindow } from "../toolkit/replay-window.ts";

/**
 * Slack request signing: `v0=` + hex HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`), refused when the
 * timestamp is more than five minutes from now (replays), compared in constant time.
 */
export function verifySlackSignature(
  headers: Headers,
  rawBody: Uint8Array,
  signingSecret: string,
  nowMs: number,
): boolean {
  const timestamp = headers.get("x-slack-request-timestamp");
  if (!withinReplayWindow(timestamp, nowMs)) return false;
  return verifyHmacSha256Hex(headers.get("x-slack-signature"), "v0=", signingSecret, `v0:${timestamp}:`, rawBody);
}
