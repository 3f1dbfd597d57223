import type { KeyObject } from "node:crypto";
import { verifyEd25519Hex } from "../../../runtime/signatures.ts";
import { withinReplayWindow } from "../toolkit/replay-window.ts";

/**
 * Discord signs `X-Signature-Timestamp + raw body` with the application's Ed25519 key. An endpoint that accepts a bad
 * signature is removed by Discord (it sends some on purpose). The timestamp is also held to a replay window.
 */
export function verifyDiscordSignature(
  headers: Headers,
  rawBody: Uint8Array,
  publicKey: KeyObject,
  nowMs: number,
): boolean {
  const timestamp = headers.get("x-signature-timestamp");
  if (!withinReplayWindow(timestamp, nowMs)) return false;
  return verifyEd25519Hex(publicKey, headers.get("x-signature-ed25519"), timestamp!, rawBody);
}
