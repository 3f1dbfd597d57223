import { createHash } from "node:crypto";

/**
 * Canonical JSON (the RFC 8785 shape: object members sorted by code unit, no whitespace, ECMAScript number text), so
 * the same arguments always hash to the same digest whichever process serialised them, and key order cannot be used
 * to make an approval or a capability token cover different arguments than it appears to.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonical JSON: numbers must be finite");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(",")}]`;
      const record = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member === undefined) continue;
        members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** `sha256:<hex>` of the canonical JSON of a tool call's exact arguments: what tokens and approvals bind to. */
export function argumentsDigest(args: unknown): string {
  return `sha256:${createHash("sha256")
    .update(canonicalJson(args ?? null))
    .digest("hex")}`;
}
