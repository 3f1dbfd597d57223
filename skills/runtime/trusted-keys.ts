import type { KeyObject } from "node:crypto";
import type { FunctionEnv } from "../../runtime/function.ts";
import type { TrustedKeys } from "./capability.ts";
import { skillEnv } from "./env.ts";
import { parsePublicKey } from "../../runtime/keys.ts";

/**
 * The agent public keys a skill trusts, from its environment (KNCLAW_AGENT_KEYS by instance, KNCLAW_AGENT_PUBLIC_KEY
 * for all; skills/runtime/env.ts declares them). A key for a named instance is used only for that instance's tokens,
 * so one instance cannot act as another.
 */
export function trustedKeysFromEnv(env: FunctionEnv): TrustedKeys {
  const byInstance = new Map<string, KeyObject[]>();
  const add = (instance: string, text: string) => {
    const list = byInstance.get(instance) ?? [];
    list.push(parsePublicKey(text, `agent key for ${instance}`));
    byInstance.set(instance, list);
  };
  // Only these two: another skill's settings being wrong is not this check's business.
  const agentPublicKey = skillEnv.read(env, "agentPublicKey");
  const agentKeys = skillEnv.read(env, "agentKeys");
  if (agentPublicKey !== undefined) add("*", agentPublicKey);
  for (const [instance, value] of Object.entries(agentKeys ?? {})) {
    for (const key of Array.isArray(value) ? value : [value]) add(instance, key);
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
