/**
 * Replay protection for platforms that sign a timestamp (Slack, Discord, the generic webhook): a request whose
 * signed timestamp is too far from now is refused even when the signature is good, so a captured request cannot be
 * replayed later. Within the window, de-duplication on the platform's ids catches exact replays.
 */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 300;

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
