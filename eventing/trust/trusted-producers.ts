import type { KeyObject } from "node:crypto";
import { keyId, parsePublicKey } from "../../runtime/keys.ts";
import type { TrustedProducers } from "./event-signature.ts";
import { isProducerRole } from "./roles.ts";

/**
 * The trust bundle: the public keys trusted per producer role, as JSON `{"<role>": "<key>" | ["<key>", ...]}` (PEM,
 * base64 DER or base64 raw 32 bytes, as runtime/keys.ts reads them). Several keys per role are a rotation's overlap:
 * the new key and the one it replaced. `knclaw secrets generate` and `knclaw dev` write it (KNCLAW_EVENT_KEYS).
 * Errors name the role, never the key.
 */
export class TrustBundleError extends Error {
  override readonly name = "TrustBundleError";
}

export class ProducerKeys implements TrustedProducers {
  private readonly byRole = new Map<string, Map<string, KeyObject>>();

  add(role: string, key: KeyObject): void {
    if (!isProducerRole(role)) throw new TrustBundleError(`"${role}" is not a producer role`);
    let keys = this.byRole.get(role);
    if (keys === undefined) {
      keys = new Map();
      this.byRole.set(role, keys);
    }
    keys.set(keyId(key), key);
  }

  keyFor(role: string, kid: string): KeyObject | undefined {
    return this.byRole.get(role)?.get(kid);
  }

  keysOf(role: string): KeyObject[] {
    return [...(this.byRole.get(role)?.values() ?? [])];
  }

  roles(): string[] {
    return [...this.byRole.keys()].sort();
  }

  /** The bundle's JSON: roles sorted, each key as base64 SPKI DER, in the order added (the newest first). */
  toBundle(): string {
    const out: Record<string, string | string[]> = {};
    for (const role of this.roles()) {
      const keys = this.keysOf(role).map((key) => key.export({ format: "der", type: "spki" }).toString("base64"));
      out[role] = keys.length === 1 ? keys[0]! : keys;
    }
    return JSON.stringify(out);
  }
}

/** A bundle's JSON text as trusted keys; `what` names it in errors (the variable it came from). */
export function parseTrustBundle(text: string, what: string): ProducerKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TrustBundleError(`${what} is not JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new TrustBundleError(`${what} must be a JSON object of role -> key or keys`);
  }
  const keys = new ProducerKeys();
  for (const [role, value] of Object.entries(parsed)) {
    if (!isProducerRole(role)) throw new TrustBundleError(`${what}: "${role}" is not a producer role`);
    const list: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of list) {
      if (typeof item !== "string") throw new TrustBundleError(`${what}: the keys of ${role} must be strings`);
      keys.add(role, parsePublicKey(item, `${what}: a key of ${role}`));
    }
  }
  return keys;
}
