/**
 * How listings page, alike on both stores: keyset cursors over members that sort in creation order, and offset
 * cursors where no stable member exists.
 */

/** Keyset pagination over `<createdAt>:<id>` members, newest first. */
export interface CursorPage {
  /** The last member of the previous page (exclusive). */
  after?: string;
  limit: number;
}

/**
 * Runs and notes are listed newest first by `<createdAt, 15 digits>:<id>`: a member that sorts lexicographically in
 * creation order, never changes, and is unique. Pages continue after the last member of the previous page.
 */
export function listMember(createdAt: number, id: string): string {
  return `${String(createdAt).padStart(15, "0")}:${id}`;
}

/**
 * A keyset page read with one row more than its limit (so "is there more" needs no second query): the rows shown,
 * and the member the next page continues after, or null on the last page.
 */
export function keysetPage<T>(
  rows: T[],
  limit: number,
  memberOf: (row: T) => string,
): { shown: T[]; next: string | null } {
  const shown = rows.slice(0, limit);
  return { shown, next: rows.length > limit ? memberOf(shown[shown.length - 1]!) : null };
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
