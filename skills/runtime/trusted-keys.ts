import type { KeyObject } from "node:crypto";
import type { TrustedProducers } from "../../eventing/trust/event-signature.ts";
import { parseTrustBundle } from "../../eventing/trust/trusted-producers.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { keyId, parsePublicKey } from "../../runtime/keys.ts";
import type { TrustedKeys } from "./capability.ts";
import { skillEnv } from "./env.ts";

/**
 * The agent public keys a skill trusts, from its environment (KNCLAW_AGENT_KEYS by instance, KNCLAW_AGENT_PUBLIC_KEY
 * for all, and the `agent/<instance>` keys of the trust bundle KNCLAW_EVENT_KEYS; skills/runtime/env.ts declares
 * them). A key for a named instance is used only for that instance's tokens and events, so one instance cannot act
 * as another.
 */
export function trustedKeysFromEnv(env: FunctionEnv): TrustedKeys {
  const byInstance = new Map<string, KeyObject[]>();
  const add = (instance: string, text: string) => {
    const list = byInstance.get(instance) ?? [];
    list.push(parsePublicKey(text, `agent key for ${instance}`));
    byInstance.set(instance, list);
  };
  // Only these: another skill's settings being wrong is not this check's business.
  const agentPublicKey = skillEnv.read(env, "agentPublicKey");
  const agentKeys = skillEnv.read(env, "agentKeys");
  if (agentPublicKey !== undefined) add("*", agentPublicKey);
  for (const [instance, value] of Object.entries(agentKeys ?? {})) {
    for (const key of Array.isArray(value) ? value : [value]) add(instance, key);
  }
  const bundle = skillEnv.read(env, "eventKeys");
  if (bundle !== undefined) {
    const producers = parseTrustBundle(bundle, skillEnv.names.eventKeys);
    for (const role of producers.roles().filter((name) => name.startsWith("agent/"))) {
      const list = byInstance.get(role.slice("agent/".length)) ?? [];
      list.push(...producers.keysOf(role));
      byInstance.set(role.slice("agent/".length), list);
    }
  }
  return staticTrustedKeys(byInstance);
}

export function staticTrustedKeys(byInstance: Map<string, KeyObject[]>): TrustedKeys {
  return {
    keysFor(instance: string) {
      return [...(byInstance.get(instance) ?? []), ...(byInstance.get("*") ?? [])];
    },
  };
}

/**
 * Who may send a skill events (tool.requested: only `agent/<instance>`, as eventing/catalog/producers.ts says): the
 * agents whose capability tokens it accepts, with the same keys, since an agent signs its events with its instance key.
 */
export function agentProducers(agents: TrustedKeys): TrustedProducers {
  return {
    keyFor(role, kid) {
      if (!role.startsWith("agent/")) return undefined;
      return agents.keysFor(role.slice("agent/".length)).find((key) => keyId(key) === kid);
    },
  };
}
