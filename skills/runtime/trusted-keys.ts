import type { KeyObject } from "node:crypto";
import { jsonEnv } from "../../runtime/json-env.ts";
import type { TrustedKeys } from "./capability.ts";
import { parsePublicKey } from "./keys.ts";

/**
 * The agent public keys a skill trusts, from its environment:
 * - `KNCLAW_AGENT_KEYS`: JSON object, instance name (or `*`) -> one key or a list of keys (rotation);
 * - `KNCLAW_AGENT_PUBLIC_KEY`: one key trusted for every instance (what `knclaw dev` sets).
 * A key for a named instance is used only for that instance's tokens, so one instance cannot act as another.
 */
export function trustedKeysFromEnv(env: Readonly<Record<string, string | undefined>>): TrustedKeys {
  const byInstance = new Map<string, KeyObject[]>();
  const add = (instance: string, text: string) => {
    const list = byInstance.get(instance) ?? [];
    list.push(parsePublicKey(text, `agent key for ${instance}`));
    byInstance.set(instance, list);
  };
  const single = env.KNCLAW_AGENT_PUBLIC_KEY;
  if (single !== undefined && single.trim() !== "") add("*", single);
  const parsed = jsonEnv(env, "KNCLAW_AGENT_KEYS");
  if (parsed !== undefined) {
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("KNCLAW_AGENT_KEYS must be a JSON object of instance -> key(s)");
    }
    for (const [instance, value] of Object.entries(parsed)) {
      const keys = Array.isArray(value) ? value : [value];
      for (const key of keys) {
        if (typeof key !== "string") throw new Error(`KNCLAW_AGENT_KEYS.${instance}: keys must be strings`);
        add(instance, key);
      }
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
