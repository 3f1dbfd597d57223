/**
 * The memory scope each memory client gets, least privilege first. One mapping for both places that mint memory
 * tokens: `knclaw dev` (cli/dev/secrets.ts, per session) and `knclaw secrets generate` (for a cluster), so the two
 * can never hand a component different rights.
 */
import type { MemoryScope } from "../../clients/memory/tokens.ts";
import {
  LABEL_CHANNEL,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MEMORY_SCOPE,
  LABEL_SKILL,
} from "../../runtime/names.ts";

export interface MemoryClientIdentity {
  component: string | undefined;
  instance?: string;
  channel?: string;
  skill?: string;
  /** A skill's: `notes` when it keeps notes (knative/config/functions.ts skillMemoryScope). */
  memoryScope?: string;
}

/**
 * An agent its own instance; a channel adapter and the gateway their component scopes; a skill that keeps notes the
 * notes scope (the memory skill checks the instance from its capability token itself), any other skill the skill
 * scope (its own call records, nothing else); the deadletter function the dead-letter queues only. Undefined for
 * anything else (the memory service itself, a skill without a name, unknown components): no token.
 */
export function memoryScopeFor(identity: MemoryClientIdentity): MemoryScope | undefined {
  switch (identity.component) {
    case "agent":
      return identity.instance ? { kind: "instance", instance: identity.instance } : undefined;
    case "channel":
      return { kind: "channel", name: identity.channel };
    case "gateway":
      return { kind: "gateway" };
    case "skill":
      if (identity.skill === undefined) return undefined;
      return identity.memoryScope === "notes"
        ? { kind: "notes", name: identity.skill }
        : { kind: "skill", name: identity.skill };
    case "deadletter":
      return { kind: "deadletter" };
    default:
      return undefined;
  }
}

/** The same mapping read from a rendered ksvc's labels (knative/render/context.ts functionLabels). */
export function memoryScopeOfLabels(labels: Readonly<Record<string, string>> | undefined): MemoryScope | undefined {
  const l = labels ?? {};
  return memoryScopeFor({
    component: l[LABEL_COMPONENT],
    instance: l[LABEL_INSTANCE],
    channel: l[LABEL_CHANNEL],
    skill: l[LABEL_SKILL],
    memoryScope: l[LABEL_MEMORY_SCOPE],
  });
}
