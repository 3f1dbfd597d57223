import { createHash, createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from "node:crypto";

/**
 * Primitives every inbound verifier is built from. All comparisons are constant-time and work on raw bytes: a
 * signature is checked against exactly what the platform sent, never a re-serialization.
 */

const utf8 = new TextEncoder();

export type Bytes = Uint8Array | string;

function toBytes(value: Bytes): Uint8Array {
  return typeof value === "string" ? utf8.encode(value) : value;
}

/**
 * Constant-time equality of two secrets or signatures of any length. Both sides are hashed first so that
 * timingSafeEqual always compares equal-length buffers and the comparison leaks neither content nor length.
 */
export function constantTimeEqual(a: Bytes, b: Bytes): boolean {
  const left = createHash("sha256").update(toBytes(a)).digest();
  const right = createHash("sha256").update(toBytes(b)).digest();
  // The length check after the digest compare is free of timing signal: it only matters when digests collide.
  return timingSafeEqual(left, right) && toBytes(a).byteLength === toBytes(b).byteLength;
}

/** HMAC-SHA256 over the concatenation of the parts, as lowercase hex. */
export function hmacSha256Hex(secret: Bytes, ...parts: Bytes[]): string {
  const hmac = createHmac("sha256", toBytes(secret));
  for (const part of parts) hmac.update(toBytes(part));
  return hmac.digest("hex");
}

/**
 * Check a `<prefix><hex>` HMAC-SHA256 signature header (Slack's `v0=`, Meta's `sha256=`) over the given parts.
 * Anything malformed is simply "not valid"; callers answer 401 without saying why.
 */
export function verifyHmacSha256Hex(
  header: string | null | undefined,
  prefix: string,
  secret: Bytes,
  ...parts: Bytes[]
): boolean {
  if (header === null || header === undefined || !header.startsWith(prefix)) return false;
  const given = header.slice(prefix.length).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(given)) return false;
  return constantTimeEqual(given, hmacSha256Hex(secret, ...parts));
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** An Ed25519 public key from its 64-hex-digit raw form (how Discord shows an application's key). */
export function ed25519PublicKeyFromHex(hex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("an Ed25519 public key must be 64 hex digits");
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, "hex")]),
    format: "der",
    type: "spki",
  });
}

/** Ed25519 verification of a hex signature over the concatenated parts; malformed input is "not valid". */
export function verifyEd25519Hex(
  publicKey: KeyObject,
  signatureHex: string | null | undefined,
  ...parts: Bytes[]
): boolean {
  if (typeof signatureHex !== "string" || !/^[0-9a-fA-F]{128}$/.test(signatureHex)) return false;
  const message = Buffer.concat(parts.map((part) => toBytes(part)));
  try {
    return verify(null, message, publicKey, Buffer.from(signatureHex, "hex"));
  } catch {
    return false;
  }
}
