import { type KeyObject, sign, verify } from "node:crypto";
import { keyId } from "../../runtime/keys.ts";
import { type CloudEvent, withAttributes } from "../cloudevent/event.ts";
import { isProducerRole } from "./roles.ts";
import { EXT_PRODUCER, EXT_SIGNATURE, signingInput } from "./signing-input.ts";

/**
 * Producer signatures on events (eventing/trust/README.md): the producer sets its role in `knclawproducer` and signs
 * the event's signing input (signing-input.ts) with its Ed25519 key; `knclawsignature` carries
 * `v1.<kid>.<base64url signature>`, where the kid (runtime/keys.ts `keyId`) picks one of the role's trusted keys, so a
 * role can have several during a rotation.
 */
const VERSION = "v1";
const SIGNATURE = /^v1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{86})$/;

/** How a function signs what it emits: its role and its private key. */
export interface EventSigner {
  readonly role: string;
  sign(event: CloudEvent): CloudEvent;
}

export function eventSigner(role: string, privateKey: KeyObject): EventSigner {
  if (!isProducerRole(role)) throw new Error(`"${role}" is not a producer role`);
  const kid = keyId(privateKey);
  return {
    role,
    sign(event) {
      const claimed = withAttributes(event, { [EXT_PRODUCER]: role, [EXT_SIGNATURE]: undefined });
      const signature = sign(null, signingInput(claimed), privateKey).toString("base64url");
      return withAttributes(claimed, { [EXT_SIGNATURE]: `${VERSION}.${kid}.${signature}` });
    },
  };
}

/** The public keys trusted for each producer role, found by key id (trusted-producers.ts builds them). */
export interface TrustedProducers {
  keyFor(role: string, kid: string): KeyObject | undefined;
}

/** Why a signature is not accepted; the audit line and the refusal name it. */
export type SignatureProblem =
  /** No `knclawsignature` (or no `knclawproducer`). */
  | "unsigned"
  /** The attributes are there but not in their format, or the role is not a role. */
  | "malformed_signature"
  /** No trusted key of the role has the signature's kid (an unknown role, a retired or foreign key). */
  | "unknown_key"
  /** A trusted key, but the signature does not verify: the event was changed after signing, or forged. */
  | "bad_signature";

export type SignatureVerdict = { ok: true; role: string } | { ok: false; problem: SignatureProblem };

export function verifyEventSignature(event: CloudEvent, trusted: TrustedProducers): SignatureVerdict {
  const role = event.attributes[EXT_PRODUCER];
  const value = event.attributes[EXT_SIGNATURE];
  if (role === undefined || value === undefined) return { ok: false, problem: "unsigned" };
  const parts = SIGNATURE.exec(value);
  if (parts === null || !isProducerRole(role)) return { ok: false, problem: "malformed_signature" };
  const key = trusted.keyFor(role, parts[1]!);
  if (key === undefined) return { ok: false, problem: "unknown_key" };
  const signature = Buffer.from(parts[2]!, "base64url");
  return verify(null, signingInput(event), key, signature)
    ? { ok: true, role }
    : { ok: false, problem: "bad_signature" };
}
