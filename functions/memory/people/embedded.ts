import type { PairingRecord } from "../../../clients/memory/contract/people.ts";
import type { Database } from "../embedded/database.ts";
import type {
  DecisionOutcome,
  PairingDecision,
  PairingInput,
  PairingOutcome,
  PeopleStore,
  PersonRecord,
} from "./store.ts";

/**
 * - people_links: each linked identity's person, `position` keeping the order its identities joined in;
 * - pairing: requests by code (the record as answered, its status and expiry as columns), and pairing_pending the
 *   pending code of each identity;
 * - approved_senders: the identities approved to talk to the instance.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS people_links (
    instance TEXT NOT NULL,
    identity TEXT NOT NULL,
    person TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (instance, identity)
  );
  CREATE INDEX IF NOT EXISTS people_links_by_person ON people_links (instance, person, position);
  CREATE TABLE IF NOT EXISTS pairing (
    instance TEXT NOT NULL,
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (instance, code)
  );
  CREATE INDEX IF NOT EXISTS pairing_expiry ON pairing (expires_at);
  CREATE TABLE IF NOT EXISTS pairing_pending (
    instance TEXT NOT NULL,
    identity TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (instance, identity)
  );
  CREATE TABLE IF NOT EXISTS approved_senders (
    instance TEXT NOT NULL,
    identity TEXT NOT NULL,
    PRIMARY KEY (instance, identity)
  );`;

/**
 * Identity links, pairing and approvals in the embedded database, per instance. A person's id is always the identity
 * string of one of its members (the first one linked), so an unlinked identity is its own person without any row.
 */
export class EmbeddedPeopleStore implements PeopleStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Deletes expired pairing requests (they are invisible already). */
  sweep(now: number): void {
    this.#db.write(() => this.#purgePairing(undefined, now));
  }

  /** Drops expired pairing requests of one instance (all of them when undefined), with their pending entries. */
  #purgePairing(instance: string | undefined, now: number): void {
    this.#db.run(
      `DELETE FROM pairing_pending WHERE (instance, code) IN
         (SELECT instance, code FROM pairing WHERE (? IS NULL OR instance = ?) AND expires_at <= ?)`,
      instance ?? null,
      instance ?? null,
      now,
    );
    this.#db.run(
      "DELETE FROM pairing WHERE (? IS NULL OR instance = ?) AND expires_at <= ?",
      instance ?? null,
      instance ?? null,
      now,
    );
  }

  async setApproved(instance: string, identity: string, approved: boolean): Promise<void> {
    this.#db.write(() => this.#setApproved(instance, identity, approved));
  }

  #setApproved(instance: string, identity: string, approved: boolean): void {
    this.#db.run(
      approved
        ? "INSERT OR IGNORE INTO approved_senders (instance, identity) VALUES (?, ?)"
        : "DELETE FROM approved_senders WHERE instance = ? AND identity = ?",
      instance,
      identity,
    );
  }

  #isApproved(instance: string, identity: string): boolean {
    return (
      this.#db.get("SELECT 1 FROM approved_senders WHERE instance = ? AND identity = ?", instance, identity) !==
      undefined
    );
  }

  async isApproved(instance: string, identity: string): Promise<boolean> {
    return this.#db.read(() => this.#isApproved(instance, identity));
  }

  #personOf(instance: string, identity: string): string | undefined {
    return this.#db.get<{ person: string }>(
      "SELECT person FROM people_links WHERE instance = ? AND identity = ?",
      instance,
      identity,
    )?.person;
  }

  #members(instance: string, person: string): string[] {
    return this.#db
      .all<{ identity: string }>(
        "SELECT identity FROM people_links WHERE instance = ? AND person = ? ORDER BY position",
        instance,
        person,
      )
      .map((row) => row.identity);
  }

  /** Point `identity` at `person`, after the members it has (or keep its place when it is one already). */
  #join(instance: string, identity: string, person: string): void {
    this.#db.run(
      `INSERT INTO people_links (instance, identity, person, position)
       VALUES (?1, ?2, ?3, (SELECT coalesce(max(position), 0) + 1 FROM people_links WHERE instance = ?1 AND person = ?3))
       ON CONFLICT (instance, identity) DO UPDATE SET person = excluded.person, position = excluded.position`,
      instance,
      identity,
      person,
    );
  }

  async linkIdentities(instance: string, identities: string[]): Promise<PersonRecord> {
    return this.#db.write(() => {
      const first = identities.find((identity) => this.#personOf(instance, identity) !== undefined);
      const target = first === undefined ? identities[0]! : this.#personOf(instance, first)!;
      for (const identity of identities) {
        const person = this.#personOf(instance, identity);
        if (person === target) continue;
        // Another person's identities all join the target, in their order; an unlinked identity joins alone.
        const joining = person === undefined ? [identity] : this.#members(instance, person);
        for (const member of joining) this.#join(instance, member, target);
      }
      return { person: target, identities: this.#members(instance, target) };
    });
  }

  async getPerson(instance: string, identity: string): Promise<PersonRecord> {
    return this.#db.read(() => {
      const person = this.#personOf(instance, identity);
      if (person === undefined) return { person: identity, identities: [identity] };
      return { person, identities: this.#members(instance, person) };
    });
  }

  /**
   * Detach one identity. When the person's id is that identity's own string, the identity keeps it (and the history
   * under it) and the rest of the group takes the id of its first remaining member.
   */
  async unlinkIdentity(instance: string, identity: string): Promise<PersonRecord> {
    return this.#db.write(() => {
      const person = this.#personOf(instance, identity);
      if (person === undefined) return { person: identity, identities: [identity] };
      const rest = this.#members(instance, person).filter((member) => member !== identity);
      this.#db.run("DELETE FROM people_links WHERE instance = ? AND identity = ?", instance, identity);
      if (rest.length === 1) {
        this.#db.run("DELETE FROM people_links WHERE instance = ? AND identity = ?", instance, rest[0]!);
      } else if (rest.length > 1 && person === identity) {
        this.#db.run(
          "UPDATE people_links SET person = ? WHERE instance = ? AND person = ?",
          rest[0]!,
          instance,
          person,
        );
      }
      return { person: identity, identities: [identity] };
    });
  }

  #pairing(instance: string, code: string): PairingRecord | undefined {
    const row = this.#db.get<{ record: string }>(
      "SELECT record FROM pairing WHERE instance = ? AND code = ?",
      instance,
      code,
    );
    return row && (JSON.parse(row.record) as PairingRecord);
  }

  #putPairing(instance: string, record: PairingRecord): void {
    this.#db.run(
      "INSERT OR REPLACE INTO pairing (instance, code, status, created_at, expires_at, record) VALUES (?, ?, ?, ?, ?, ?)",
      instance,
      record.code,
      record.status,
      record.createdAt,
      record.expiresAt,
      JSON.stringify(record),
    );
  }

  async requestPairing(instance: string, input: PairingInput): Promise<PairingOutcome> {
    return this.#db.write(() => {
      this.#purgePairing(instance, input.now);
      if (this.#isApproved(instance, input.identity)) return { kind: "approved" };
      const existing = this.#db.get<{ code: string }>(
        "SELECT code FROM pairing_pending WHERE instance = ? AND identity = ?",
        instance,
        input.identity,
      );
      const record = existing === undefined ? undefined : this.#pairing(instance, existing.code);
      if (record) return { kind: "pending", record, created: false };
      const { pending } = this.#db.get<{ pending: number }>(
        "SELECT count(*) AS pending FROM pairing WHERE instance = ? AND status = 'pending'",
        instance,
      )!;
      if (pending >= input.maxPending) return { kind: "full" };
      if (this.#pairing(instance, input.record.code)) return { kind: "collision" };
      this.#putPairing(instance, input.record);
      this.#db.run(
        "INSERT OR REPLACE INTO pairing_pending (instance, identity, code) VALUES (?, ?, ?)",
        instance,
        input.identity,
        input.record.code,
      );
      return { kind: "pending", record: input.record, created: true };
    });
  }

  async listPairing(instance: string, now: number): Promise<PairingRecord[]> {
    const rows = this.#db.read(() =>
      this.#db.all<{ record: string }>(
        `SELECT record FROM pairing WHERE instance = ? AND status = 'pending' AND expires_at > ?
         ORDER BY created_at, code`,
        instance,
        now,
      ),
    );
    return rows.map((row) => JSON.parse(row.record) as PairingRecord);
  }

  async decidePairing(instance: string, code: string, input: PairingDecision): Promise<DecisionOutcome> {
    return this.#db.write(() => {
      this.#purgePairing(instance, input.now);
      const record = this.#pairing(instance, code);
      if (!record) return { kind: "missing" };
      if (record.status !== "pending") {
        return record.status === input.decision ? { kind: "ok", record } : { kind: "conflict", record };
      }
      const decided: PairingRecord = {
        ...record,
        status: input.decision,
        decidedBy: input.decidedBy,
        decidedAt: input.now,
      };
      this.#putPairing(instance, decided);
      const identity = `${record.channel}:${record.sender}`;
      this.#db.run("DELETE FROM pairing_pending WHERE instance = ? AND identity = ?", instance, identity);
      if (input.decision === "approved") this.#setApproved(instance, identity, true);
      return { kind: "ok", record: decided };
    });
  }
}
