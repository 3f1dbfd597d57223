import { randomBytes } from "node:crypto";
import type { Database } from "../embedded/database.ts";
import {
  type ArmResult,
  type ClaimedTimer,
  isStaleArm,
  type StoredTimer,
  type TimerKey,
  type TimerStore,
  timerMember,
} from "./store.ts";

/**
 * One row per timer (`member`: store.ts `timerMember`): `at` is when it is next due (its due time, or the end of the
 * lease of a claim), `arm_id` the arming it belongs to, `timer` the timer as armed. A timer never expires: it goes
 * when it fired or is disarmed.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS timers (
    member TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    at INTEGER NOT NULL,
    arm_id TEXT NOT NULL,
    timer TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS timers_due ON timers (at);
  CREATE INDEX IF NOT EXISTS timers_by_instance ON timers (instance);`;

interface TimerRow {
  member: string;
  arm_id: string;
  timer: string;
}

/** Timers in the embedded database: the same semantics as on Redis (a claim leases, `fired` removes only its arming). */
export class EmbeddedTimerStore implements TimerStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  async arm(timer: StoredTimer, maxPerInstance: number): Promise<ArmResult> {
    const member = timerMember(timer);
    return this.#db.write((): ArmResult => {
      const existing = this.#db.get<TimerRow>("SELECT timer FROM timers WHERE member = ?", member);
      if (existing !== undefined) {
        const stored = JSON.parse(existing.timer) as StoredTimer;
        if (isStaleArm(stored, timer)) return { outcome: "stale", stored };
      } else {
        const { armed } = this.#db.get<{ armed: number }>(
          "SELECT count(*) AS armed FROM timers WHERE instance = ?",
          timer.instance,
        )!;
        if (armed >= maxPerInstance) return { outcome: "capped" };
      }
      this.#db.run(
        `INSERT INTO timers (member, instance, at, arm_id, timer) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (member) DO UPDATE SET at = excluded.at, arm_id = excluded.arm_id, timer = excluded.timer`,
        member,
        timer.instance,
        timer.dueAt,
        randomBytes(8).toString("hex"),
        JSON.stringify(timer),
      );
      return { outcome: "armed" };
    });
  }

  async get(key: TimerKey): Promise<StoredTimer | undefined> {
    const row = this.#db.read(() =>
      this.#db.get<TimerRow>("SELECT timer FROM timers WHERE member = ?", timerMember(key)),
    );
    return row === undefined ? undefined : (JSON.parse(row.timer) as StoredTimer);
  }

  async disarm(key: TimerKey): Promise<boolean> {
    return this.#db.write(
      () => Number(this.#db.run("DELETE FROM timers WHERE member = ?", timerMember(key)).changes) > 0,
    );
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedTimer[]> {
    return this.#db.write(() => {
      const due = this.#db.all<TimerRow>(
        "SELECT member, arm_id, timer FROM timers WHERE at <= ? ORDER BY at LIMIT ?",
        now,
        limit,
      );
      for (const row of due) this.#db.run("UPDATE timers SET at = ? WHERE member = ?", leaseUntil, row.member);
      return due.map((row) => ({ timer: JSON.parse(row.timer) as StoredTimer, armId: row.arm_id }));
    });
  }

  async fired(claimed: ClaimedTimer): Promise<void> {
    this.#db.write(() =>
      this.#db.run("DELETE FROM timers WHERE member = ? AND arm_id = ?", timerMember(claimed.timer), claimed.armId),
    );
  }
}
