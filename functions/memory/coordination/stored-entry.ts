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
