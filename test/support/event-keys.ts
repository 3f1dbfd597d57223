import type { EventType } from "../../eventing/catalog/events.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../../eventing/catalog/producers.ts";
import { type CloudEvent, dataAsJson } from "../../eventing/cloudevent/event.ts";
import { type EventSigner, eventSigner } from "../../eventing/trust/event-signature.ts";
import { ProducerKeys } from "../../eventing/trust/trusted-producers.ts";
import { generateSigningKey, parsePrivateKey, parsePublicKey } from "../../runtime/keys.ts";

/**
 * Event signing for tests (eventing/trust/): one Ed25519 key pair per producer role, made on first use and the same
 * for the whole test process, so a function's environment, the trust bundle other functions hold and the events a
 * test posts all agree. Tests about trust sign wrongly on purpose with `signAs`; the others post events signed by
 * the role the catalog expects (`signedRightly`).
 */
interface RoleKeys {
  privateKeyPem: string;
  publicKeyPem: string;
  signer: EventSigner;
}

const byRole = new Map<string, RoleKeys>();

export function roleKeys(role: string): RoleKeys {
  let keys = byRole.get(role);
  if (keys === undefined) {
    const pair = generateSigningKey();
    keys = { ...pair, signer: eventSigner(role, parsePrivateKey(pair.privateKeyPem)) };
    byRole.set(role, keys);
  }
  return keys;
}

export function signAs(role: string, event: CloudEvent): CloudEvent {
  return roleKeys(role).signer.sign(event);
}

/** Signed by the first role the catalog allows for this event's type and data; a PingSource tick stays unsigned. */
export function signedRightly(event: CloudEvent): CloudEvent {
  const rule = PRODUCER_RULES[event.attributes.type as EventType];
  if (rule === undefined || isUnsignedRule(rule)) return event;
  let data: unknown;
  try {
    data = dataAsJson(event);
  } catch {
    throw new Error(`signedRightly: the data of this ${event.attributes.type} is not JSON; sign it with signAs`);
  }
  const role = rule.allowed((data ?? {}) as Record<string, unknown>)[0];
  if (role === undefined) throw new Error(`no role may emit this ${event.attributes.type}`);
  return signAs(role, event);
}

/** The producers most tests' functions hear from: the gateway and every channel adapter. */
export const PLATFORM_PRODUCERS = [
  "gateway",
  "channel/slack",
  "channel/telegram",
  "channel/discord",
  "channel/whatsapp",
  "channel/webhook",
];

/** The agent instances the suites name: a function that acts on agents' events trusts each of them. */
export const TEST_AGENTS = ["ops", "dev", "assistant", "family", "guild-bot", "shop", "main"].map(
  (instance) => `agent/${instance}`,
);

/** The trust bundle (KNCLAW_EVENT_KEYS) trusting these roles' test keys. */
export function trustBundle(roles: readonly string[]): string {
  const bundle = new ProducerKeys();
  for (const role of roles) bundle.add(role, parsePublicKey(roleKeys(role).publicKeyPem));
  return bundle.toBundle();
}

/** A function's event variables: its own signing key as `role` (none for the agent) and the bundle of `trusts`. */
export function eventKeysEnv(role: string | undefined, trusts: readonly string[]): Record<string, string> {
  return {
    KNCLAW_EVENT_KEYS: trustBundle(trusts),
    ...(role === undefined ? {} : { KNCLAW_EVENT_SIGNING_KEY: roleKeys(role).privateKeyPem }),
  };
}

/**
 * What `knclaw dev` (startDev's env) needs to work with test producers (cli/dev/secrets.ts): each external skill's
 * signing key by its Secret key's name (`KNCLAW_EVENT_KEYS_SKILL_<NAME>`: the platform trusts it, the test's skill
 * server signs with it), and the roles a test posts events as, added to the session's trust bundle.
 */
export function devTrustEnv(options: { externalSkills?: string[]; producers?: string[] }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const skill of options.externalSkills ?? []) {
    env[`KNCLAW_EVENT_KEYS_SKILL_${skill.replace(/-/g, "_").toUpperCase()}`] = roleKeys(`skill/${skill}`).privateKeyPem;
  }
  if (options.producers !== undefined) env.KNCLAW_EVENT_TRUST_BUNDLE = trustBundle(options.producers);
  return env;
}
