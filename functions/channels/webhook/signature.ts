import { verifyHmacSha256Hex } from "../../../runtime/signatures.ts";
import { withinReplayWindow } from "../toolkit/replay-window.ts";
import type { WebhookHook } from "../toolkit/webhook-hooks.ts";

/** A verified delivery's id for de-duplication, or undefined when the request is not authentic. */
export function verifyHookRequest(
  hook: WebhookHook,
  secret: string,
  headers: Headers,
  rawBody: Uint8Array,
  nowMs: number,
): { deliveryId: string } | undefined {
  if (hook.scheme === "github") {
    const signature = headers.get("x-hub-signature-256");
    if (!verifyHmacSha256Hex(signature, "sha256=", secret, rawBody)) return undefined;
    // Without a delivery id the signature itself identifies the exact bytes: an identical replay is a duplicate.
    return { deliveryId: headers.get("x-github-delivery") ?? signature! };
  }
  const timestamp = headers.get("x-knclaw-timestamp");
  if (!withinReplayWindow(timestamp, nowMs)) return undefined;
  const signature = headers.get("x-knclaw-signature");
  if (!verifyHmacSha256Hex(signature, "sha256=", secret, `${timestamp}.`, rawBody)) return undefined;
  return { deliveryId: headers.get("x-knclaw-delivery") ?? signature! };
}
