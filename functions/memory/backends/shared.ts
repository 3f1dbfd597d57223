import { type RunStatus, TERMINAL_RUN_STATUSES } from "../../../eventing/memory/schemas.ts";

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
