import { randomBytes } from "node:crypto";
import {
  type ArmResult,
  type ClaimedTimer,
  isStaleArm,
  type StoredTimer,
  type TimerKey,
  type TimerStore,
  timerMember,
} from "./store.ts";

interface Entry {
  timer: StoredTimer;
  armId: string;
  /** When the timer is next due: its due time, or the end of the lease of a claim. */
  at: number;
}

/** Timers in process: the same semantics as on Redis (a claim leases, `fired` removes only the arming it fired). */
export class EmbeddedTimerStore implements TimerStore {
  readonly #entries = new Map<string, Entry>();
  readonly #perInstance = new Map<string, number>();

  async arm(timer: StoredTimer, maxPerInstance: number): Promise<ArmResult> {
    const member = timerMember(timer);
    const existing = this.#entries.get(member);
    if (existing !== undefined && isStaleArm(existing.timer, timer))
      return { outcome: "stale", stored: existing.timer };
    if (existing === undefined) {
      const count = this.#perInstance.get(timer.instance) ?? 0;
      if (count >= maxPerInstance) return { outcome: "capped" };
      this.#perInstance.set(timer.instance, count + 1);
    }
    this.#entries.set(member, {
      timer: structuredClone(timer),
      armId: randomBytes(8).toString("hex"),
      at: timer.dueAt,
    });
    return { outcome: "armed" };
  }

  async get(key: TimerKey): Promise<StoredTimer | undefined> {
    const entry = this.#entries.get(timerMember(key));
    return entry === undefined ? undefined : structuredClone(entry.timer);
  }

  async disarm(key: TimerKey): Promise<boolean> {
    return this.#remove(timerMember(key), key.instance);
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedTimer[]> {
    const due = [...this.#entries.values()].filter((entry) => entry.at <= now).sort((a, b) => a.at - b.at);
    return due.slice(0, limit).map((entry) => {
      entry.at = leaseUntil;
      return { timer: structuredClone(entry.timer), armId: entry.armId };
    });
  }

  async fired(claimed: ClaimedTimer): Promise<void> {
    const member = timerMember(claimed.timer);
    if (this.#entries.get(member)?.armId === claimed.armId) this.#remove(member, claimed.timer.instance);
  }

  #remove(member: string, instance: string): boolean {
    if (!this.#entries.delete(member)) return false;
    const left = (this.#perInstance.get(instance) ?? 1) - 1;
    if (left > 0) this.#perInstance.set(instance, left);
    else this.#perInstance.delete(instance);
    return true;
  }
}
