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
