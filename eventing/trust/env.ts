import { defineEnv, secret } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { parsePrivateKey } from "../../runtime/keys.ts";
import { type EventSigner, eventSigner } from "./event-signature.ts";
import { type ProducerKeys, parseTrustBundle } from "./trusted-producers.ts";

/**
 * The variables of event signing (eventing/trust/README.md), spread into the contract of every function that takes
 * events (the trust bundle) and every function that emits them (its signing key; the agent signs with its instance
 * key, KNCLAW_SIGNING_KEY, instead). Both come from Secrets `knclaw secrets generate` writes (`knclaw dev` makes them).
 */
export const eventKeysVar = {
  eventKeys: secret(
    "KNCLAW_EVENT_KEYS",
    "the trust bundle: JSON `{role: key or [keys]}`, the public keys of every producer role whose events this function acts on (a rotation keeps the previous key beside the new one)",
  ),
};

export const eventSigningKeyVar = {
  eventSigningKey: secret(
    "KNCLAW_EVENT_SIGNING_KEY",
    "this function's Ed25519 private key (PEM or base64), signing every event it emits as its producer role",
  ),
};

const trustEnv = defineEnv({ ...eventKeysVar, ...eventSigningKeyVar });

/** The trust bundle of this function's environment; EnvError when unset, a TrustBundleError naming the role at fault. */
export function trustedProducersFromEnv(env: FunctionEnv): ProducerKeys {
  return parseTrustBundle(trustEnv.read(env, "eventKeys"), trustEnv.names.eventKeys);
}

/** How this function signs, as `role`, with the key of its environment. */
export function eventSignerFromEnv(env: FunctionEnv, role: string): EventSigner {
  const name = trustEnv.names.eventSigningKey;
  return eventSigner(role, parsePrivateKey(trustEnv.read(env, "eventSigningKey"), name));
}
