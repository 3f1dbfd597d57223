/**
 * Which producer role (eventing/trust/roles.ts) each signing key of a rendered platform is for. One mapping for both
 * places that make signing keys and compose the trust bundle: `knclaw secrets generate` (knative/secrets/plan.ts) and
 * `knclaw dev` (cli/dev/secrets.ts), so a key is always trusted for the role its function signs as.
 */
import {
  agentRole,
  channelRole,
  GATEWAY_ROLE,
  MEMORY_ROLE,
  OPERATOR_ROLE,
  skillRole,
} from "../../eventing/trust/roles.ts";
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

/** A signing key no rendered container reads, held outside the platform, whose public key the bundle still trusts. */
export interface HeldSigningKey {
  namespace: string;
  secret: string;
  key: string;
  role: string;
  /** Who holds it, for the listing of `knclaw secrets generate`. */
  holder: string;
}

/**
 * The signing keys knclaw makes for someone outside the rendered functions, beside the others (the bundle trusts
 * their public keys):
 * - each external skill's (one per rendered skill Trigger whose subscriber is a URL): knclaw runs no function for it,
 *   but its answers must be signed like any skill's; its operator hands it the key;
 * - the operator's (`operator`, one per namespace with a Broker): `knclaw send --sign` signs with it, and the catalog
 *   lets it start runs that name no requester and no session, nothing else (eventing/catalog/producers.ts).
 */
export function heldSigningKeys(objects: readonly RenderedObject[]): HeldSigningKey[] {
  const out: HeldSigningKey[] = [];
  for (const object of objects) {
    if (object.kind !== "Trigger" || object.metadata.labels?.[LABEL_COMPONENT] !== "skill") continue;
    const skill = object.metadata.labels[LABEL_SKILL];
    const subscriber = (object.spec as { subscriber?: { uri?: unknown } } | undefined)?.subscriber;
    if (skill === undefined || typeof subscriber?.uri !== "string") continue;
    const role = skillRole(skill);
    const holder = `external skill ${skill} (give it this key: it signs the skill's answers)`;
    out.push({ namespace: object.metadata.namespace || "default", ...eventSigningKeyRef(role), role, holder });
  }
  // A Broker's namespace (its Triggers' too: `knclaw dev` composes the bundle from the ksvcs and Triggers it runs).
  const namespaces = new Set(
    objects.filter((o) => o.kind === "Broker" || o.kind === "Trigger").map((o) => o.metadata.namespace || "default"),
  );
  for (const namespace of namespaces) {
    const holder = "the operator (knclaw send --sign: it may start runs naming no requester or session, nothing else)";
    out.push({ namespace, ...eventSigningKeyRef(OPERATOR_ROLE), role: OPERATOR_ROLE, holder });
  }
  return out;
}
