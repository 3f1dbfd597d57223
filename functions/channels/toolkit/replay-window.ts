import { createHash } from "node:crypto";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";

/**
 * Replay protection for platforms that sign a timestamp (Slack, Discord, the generic webhook): a request whose
 * signed timestamp is too far from now is refused even when the signature is good, so a captured request cannot be
 * replayed later. Within the window, de-duplication on the platform's ids catches exact replays.
 */
const DEFAULT_REPLAY_WINDOW_SECONDS = 300;

/** True when `timestampSeconds` (decimal digits only, Unix seconds) lies within the window around now. */
export function withinReplayWindow(
  timestampSeconds: string | null | undefined,
  nowMs: number,
  windowSeconds: number = DEFAULT_REPLAY_WINDOW_SECONDS,
): boolean {
  if (typeof timestampSeconds !== "string" || !/^\d{1,12}$/.test(timestampSeconds)) return false;
  const skew = Math.abs(nowMs / 1000 - Number(timestampSeconds));
  return skew <= windowSeconds;
}

/**
 * Refuses a signed request seen before. Within the replay window a captured request still carries a valid
 * signature, so once a request with a given signature has been handled, the same signature is refused (401) until it
 * has expired anyway. Only for schemes that sign a timestamp: a platform retry is then signed anew and goes through
 * to de-duplication, and only a byte-for-byte replay is refused. A signature is remembered only after its request was
 * handled, so a retry of a request that failed is never refused.
 */
export class SignatureReplayGuard {
  private readonly kv: KeyValueState;
  private readonly scope: string;
  private readonly ttlSeconds: number;

  constructor(kv: KeyValueState, scope: string, windowSeconds: number = DEFAULT_REPLAY_WINDOW_SECONDS) {
    this.kv = kv;
    this.scope = scope;
    // The window reaches both ways from now: a signature stays acceptable for up to twice its width.
    this.ttlSeconds = 2 * windowSeconds + 60;
  }

  private key(signature: string): string {
    return `sig:${this.scope}:${createHash("sha256").update(signature).digest("hex")}`;
  }

  async seen(signature: string): Promise<boolean> {
    return (await this.kv.get(this.key(signature))) !== undefined;
  }

  async remember(signature: string): Promise<void> {
    await this.kv.set(this.key(signature), "1", this.ttlSeconds);
  }
}
