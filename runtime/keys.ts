import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

/**
 * Ed25519 keys as knclaw configures them: PEM (PKCS#8 private, SPKI public), base64 of the DER, or base64 of the raw
 * 32-byte seed / public key. Errors never echo the key material.
 */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export class KeyFormatError extends Error {
  constructor(what: string) {
    super(`${what} is not an Ed25519 key (PEM, base64 DER or base64 raw 32 bytes)`);
    this.name = "KeyFormatError";
  }
}

export function parsePrivateKey(text: string, what = "signing key"): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith("-----BEGIN")) key = createPrivateKey(trimmed);
    else {
      const der = decodeBase64(trimmed, what);
      const pkcs8 = der.length === 32 ? Buffer.concat([PKCS8_ED25519_PREFIX, der]) : der;
      key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    }
  } catch {
    throw new KeyFormatError(what);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFormatError(what);
  return key;
}

export function parsePublicKey(text: string, what = "public key"): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith("-----BEGIN")) key = createPublicKey(trimmed);
    else {
      const der = decodeBase64(trimmed, what);
      const spki = der.length === 32 ? Buffer.concat([SPKI_ED25519_PREFIX, der]) : der;
      key = createPublicKey({ key: spki, format: "der", type: "spki" });
    }
  } catch {
    throw new KeyFormatError(what);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFormatError(what);
  return key;
}

function decodeBase64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(text)) throw new KeyFormatError(what);
  return Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** A fresh key pair as PEM text (what `knclaw dev` puts in KNCLAW_SIGNING_KEY and the skills' trusted keys). */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

const keyIds = new WeakMap<KeyObject, string>();

/** A short, stable key id (hash of the SPKI DER) so verifiers can pick the right key during a rotation. */
export function keyId(key: KeyObject): string {
  // Remembered per key object: verifiers ask for the ids of the same few keys on every event.
  let id = keyIds.get(key);
  if (id === undefined) {
    const pub = key.type === "private" ? createPublicKey(key) : key;
    const der = pub.export({ format: "der", type: "spki" });
    id = createHash("sha256").update(der).digest("hex").slice(0, 16);
    keyIds.set(key, id);
  }
  return id;
}
