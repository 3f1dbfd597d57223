import { type RunStatus, TERMINAL_RUN_STATUSES } from "../../../clients/memory/schemas.ts";

/**
 * Conventions both backends share, so that they order, page and encode exactly alike.
 */

/**
 * Runs and notes are listed newest first by `<createdAt, 15 digits>:<id>`: a member that sorts lexicographically in
 * creation order, never changes, and is unique. Pages continue after the last member of the previous page.
 */
export function listMember(createdAt: number, id: string): string {
  return `${String(createdAt).padStart(15, "0")}:${id}`;
}

const MEMBER = /^\d{15}:[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function encodeCursor(member: string): string {
  return Buffer.from(member).toString("base64url");
}

/** The member a cursor stands for, or undefined when the cursor was not made by encodeCursor. */
export function decodeCursor(cursor: string): string | undefined {
  const member = Buffer.from(cursor, "base64url").toString();
  return MEMBER.test(member) ? member : undefined;
}

/** Offset cursors (session listings): a page boundary that needs no stable member. */
export function encodeOffset(offset: number): string {
  return Buffer.from(`o${offset}`).toString("base64url");
}

export function decodeOffset(cursor: string): number | undefined {
  const text = Buffer.from(cursor, "base64url").toString();
  return /^o\d{1,9}$/.test(text) ? Number(text.slice(1)) : undefined;
}

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.includes(status);
}

/** `i` for an instance's own notes, `u:<user>` for a user's. */
export function noteOwnerKey(user: string | undefined): string {
  return user === undefined ? "i" : `u:${user}`;
}

/**
 * A dedup/key-value entry as stored: `<claim>|` then `=<value>` when there is a value. Claims match
 * [A-Za-z0-9_-]*, so the first '|' ends the claim.
 */
export function encodeEntry(claim: string | undefined, value: string | undefined): string {
  return `${claim ?? ""}|${value === undefined ? "" : `=${value}`}`;
}

export function decodeEntry(stored: string): { claim: string; value: string | null } {
  const bar = stored.indexOf("|");
  const rest = stored.slice(bar + 1);
  return { claim: stored.slice(0, bar), value: rest.startsWith("=") ? rest.slice(1) : null };
}

/** Stream ids compare as (ms, seq) pairs. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0;
}

export const DAY_MS = 86_400_000;

/**
 * Dead-letter listings examine at most this many entries per request when filtering, then answer what they found
 * with a cursor to continue from, so a filter matching nothing costs a bounded amount of work per call.
 */
export const DEAD_LETTER_SCAN_LIMIT = 1000;

export interface DeadLetterFilter {
  instance?: string;
  type?: string;
  destination?: string;
}

export function isFiltered(filter: DeadLetterFilter): boolean {
  return filter.instance !== undefined || filter.type !== undefined || filter.destination !== undefined;
}

export function matchesDeadLetter(
  values: { instance: string | null; type: string; destination: string | null },
  filter: DeadLetterFilter,
): boolean {
  return (
    (filter.instance === undefined || values.instance === filter.instance) &&
    (filter.type === undefined || values.type === filter.type) &&
    (filter.destination === undefined || values.destination === filter.destination)
  );
}

/**
 * One page of a dead-letter listing, fed members newest first (both backends page through the same code): up to
 * `limit` matches, a cursor after the last one when more may follow, or after the last member examined when the
 * scan limit ran out first.
 */
export class DeadLetterPager {
  readonly #limit: number;
  readonly #filter: DeadLetterFilter;
  readonly matches: string[] = [];
  #scanned = 0;
  #lastScanned: string | undefined;
  #stoppedEarly = false;

  constructor(limit: number, filter: DeadLetterFilter) {
    this.#limit = limit;
    this.#filter = filter;
  }

  /** Offer the next member; false once the page is decided (no more members are needed). */
  offer(member: string, values: Parameters<typeof matchesDeadLetter>[0] | undefined): boolean {
    this.#scanned += 1;
    this.#lastScanned = member;
    if (values !== undefined && matchesDeadLetter(values, this.#filter)) this.matches.push(member);
    if (this.matches.length > this.#limit) {
      this.#stoppedEarly = true;
      return false;
    }
    if (isFiltered(this.#filter) && this.#scanned >= DEAD_LETTER_SCAN_LIMIT) {
      this.#stoppedEarly = true;
      return false;
    }
    return true;
  }

  /** How many more members the pager may want (for sizing reads). */
  get wanted(): number {
    return isFiltered(this.#filter) ? DEAD_LETTER_SCAN_LIMIT - this.#scanned : this.#limit + 1 - this.matches.length;
  }

  /**
   * The members to answer and the cursor member. A scan that stopped at the limit answers a cursor even if the
   * index happened to end there (the next page is then empty), so both backends page identically.
   */
  finish(): { members: string[]; next: string | null } {
    const members = this.matches.slice(0, this.#limit);
    if (this.matches.length > this.#limit) return { members, next: members[members.length - 1]! };
    if (this.#stoppedEarly) return { members, next: this.#lastScanned ?? null };
    return { members, next: null };
  }
}
