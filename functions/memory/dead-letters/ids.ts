import { createHash } from "node:crypto";

/**
 * A dead letter's id: the same event (source + id) failing at the same destination is one entry, so a broker that
 * redelivers a dead letter (its 202 got lost, say) finds the entry it already has. The destination is part of it
 * because one event fanned out to two Triggers can fail at both, and those are two different failures.
 */
export function deadLetterId(source: string, eventId: string, destination: string | null): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([source, eventId, destination ?? ""]))
    .digest("base64url");
  return `dl_${digest.slice(0, 32)}`;
}

/** Bytes a padded base64 text decodes to, without decoding it. */
export function base64Length(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}
