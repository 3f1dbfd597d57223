/**
 * Which producer role (eventing/trust/roles.ts) each signing key of a rendered platform is for. One mapping for both
 * places that make signing keys and compose the trust bundle: `knclaw secrets generate` (knative/secrets/plan.ts) and
 * `knclaw dev` (cli/dev/secrets.ts), so a key is always trusted for the role its function signs as.
 */
import { agentRole, channelRole, GATEWAY_ROLE, MEMORY_ROLE, skillRole } from "../../eventing/trust/roles.ts";
import { LABEL_CHANNEL, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_SKILL } from "../../runtime/names.ts";
import { eventSigningKeyRef } from "../render/event-keys.ts";
import type { RenderedObject } from "../render/types.ts";

/** The role a rendered ksvc signs its events as, from its labels; undefined for one that signs nothing. */
export function producerRoleOfLabels(labels: Readonly<Record<string, string>> | undefined): string | undefined {
  const l = labels ?? {};
  switch (l[LABEL_COMPONENT]) {
    case "agent":
      return l[LABEL_INSTANCE] ? agentRole(l[LABEL_INSTANCE]) : undefined;
    case "gateway":
      return GATEWAY_ROLE;
    case "channel":
      return l[LABEL_CHANNEL] ? channelRole(l[LABEL_CHANNEL]) : undefined;
    case "skill":
      return l[LABEL_SKILL] ? skillRole(l[LABEL_SKILL]) : undefined;
    case "memory":
      return MEMORY_ROLE;
    default:
      return undefined;
  }
}

export interface ExternalSkillKey {
  namespace: string;
  secret: string;
  key: string;
  role: string;
  skill: string;
}

/**
 * The signing keys of external skills: knclaw runs no function for them, so nothing references their key, but their
 * answers must be signed like any skill's. One per rendered skill Trigger whose subscriber is a URL; the key is
 * generated beside the others (its operator hands it to the skill) and its public key joins the trust bundle.
 */
export function externalSkillKeys(objects: readonly RenderedObject[]): ExternalSkillKey[] {
  const out: ExternalSkillKey[] = [];
  for (const object of objects) {
    if (object.kind !== "Trigger" || object.metadata.labels?.[LABEL_COMPONENT] !== "skill") continue;
    const skill = object.metadata.labels[LABEL_SKILL];
    const subscriber = (object.spec as { subscriber?: { uri?: unknown } } | undefined)?.subscriber;
    if (skill === undefined || typeof subscriber?.uri !== "string") continue;
    const role = skillRole(skill);
    out.push({ namespace: object.metadata.namespace || "default", ...eventSigningKeyRef(role), role, skill });
  }
  return out;
}
