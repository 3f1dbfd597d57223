import type { TimerTarget } from "../../../eventing/catalog/shared.ts";

/**
 * Due-time timers (ARCHITECTURE.md, "Deadlines"): what a function armed, by due time. The poller (poller.ts) claims
 * the due ones, emits each one's timer.fired and only then removes it, so a timer fires at least once per due time:
 * a crash between the emit and the removal fires it again when the claim's lease ends, with the same event id.
 * A claim hides a timer from every other claim until its lease ends, so replicas polling together fire it once.
 */
export interface TimerStore {
  /** Arms the timer or moves it; `stale` (nothing changed) when a higher version is stored, `capped` at the limit. */
  arm(timer: StoredTimer, maxPerInstance: number): Promise<ArmResult>;
  get(key: TimerKey): Promise<StoredTimer | undefined>;
  disarm(key: TimerKey): Promise<boolean>;
  /** Up to `limit` timers due at `now`, each leased until `leaseUntil`; after that it is due again. */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedTimer[]>;
  /** The claimed timer's event was emitted: it is removed, unless it was armed again since the claim. */
  fired(claimed: ClaimedTimer): Promise<void>;
}

export interface TimerKey {
  instance: string;
  target: TimerTarget;
  kind: string;
  id: string;
}

export interface StoredTimer extends TimerKey {
  dueAt: number;
  version?: number;
  data?: Record<string, unknown>;
  traceparent?: string;
  tracestate?: string;
}

export type ArmResult = { outcome: "armed" } | { outcome: "stale"; stored: StoredTimer } | { outcome: "capped" };

/** A timer taken by one poll; `armId` names the arming it fired for, so a re-arm since the claim survives `fired`. */
export interface ClaimedTimer {
  timer: StoredTimer;
  armId: string;
}

/** One string per timer: instance names, targets and kinds never contain `|`, and an id is the last part. */
export function timerMember(key: TimerKey): string {
  return `${key.target}|${key.instance}|${key.kind}|${key.id}`;
}

/** A later arm with a lower version than the stored timer's is stale (versions order arms from the same source). */
export function isStaleArm(stored: StoredTimer | undefined, arming: StoredTimer): boolean {
  return stored?.version !== undefined && arming.version !== undefined && arming.version < stored.version;
}
