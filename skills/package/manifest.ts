import { z } from "zod";

/**
 * What a skill needs from the platform as a whole, declared next to its code and rendered into exactly that much
 * authority: Kubernetes RBAC rules, egress destinations, secrets, and the limits of one call. The renderer grants
 * nothing a manifest does not declare. What each tool needs (mutates, approval, groups) is declared on the tool
 * itself, in tools.ts (see tool.ts).
 */

/**
 * Verbs a manifest may ask for. `impersonate`, `bind` and `escalate` are privilege-granting verbs: the renderer adds
 * the one impersonation grant per-instance scoping needs itself, and a skill may never ask for them directly.
 */
const RBAC_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] as const;

/** Wildcards would grant whatever the cluster adds later: a manifest names what it uses. */
const noWildcard = (max: number, minLength: number) =>
  z
    .string()
    .min(minLength)
    .max(max)
    .refine((value) => !value.includes("*"), "wildcards are not allowed");

export const RbacRule = z
  .object({
    /** `""` is the core API group. */
    apiGroups: z.array(noWildcard(253, 0)).min(1),
    resources: z.array(noWildcard(253, 1)).min(1),
    verbs: z.array(z.enum(RBAC_VERBS)).min(1),
    resourceNames: z.array(z.string().min(1).max(253)).optional(),
  })
  .strict();
export type RbacRule = z.infer<typeof RbacRule>;

const KubernetesNeeds = z
  .object({
    /** Namespaced rules: rendered into a Role (and RoleBinding) in each namespace the skill may act in. */
    rules: z.array(RbacRule).default([]),
    /** Cluster-scoped rules (nodes, ...): a ClusterRole, rendered only where the config allows cluster scope. */
    clusterRules: z.array(RbacRule).default([]),
    /**
     * Whose identity holds the rules. `skill`: the skill's own ServiceAccount, in the skill's namespace.
     * `instance`: a ServiceAccount per agent instance, bound only in the namespaces that instance's config grants;
     * the skill impersonates it for each call, so Kubernetes RBAC itself keeps one instance out of another's namespaces.
     */
    identity: z.enum(["skill", "instance"]).default("skill"),
  })
  .strict();
export type KubernetesNeeds = z.infer<typeof KubernetesNeeds>;

const port = z.number().int().min(1).max(65535);
const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, "a lowercase DNS name");

/**
 * Where a skill's traffic may go. NetworkPolicy filters addresses, not names, so `host` entries are rendered as the
 * public internet on the given ports (private ranges excluded) and the skill enforces the names itself.
 */
const EgressNeed = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("host"), host: hostname, ports: z.array(port).min(1).default([443]) }).strict(),
  z.object({ kind: z.literal("cidr"), cidr: z.string().min(1).max(64), ports: z.array(port).min(1) }).strict(),
  /** The Kubernetes API server (its address is only known on the cluster). */
  z.object({ kind: z.literal("kubernetes-api") }).strict(),
  /** A knclaw service reached through the cluster-local Knative gateway. */
  z.object({ kind: z.literal("service"), service: z.enum(["memory"]) }).strict(),
  /** Hosts the deployer lists in config for this skill (the http skill's allow-list). */
  z.object({ kind: z.literal("configured-hosts"), ports: z.array(port).min(1).default([80, 443]) }).strict(),
]);
export type EgressNeed = z.infer<typeof EgressNeed>;

const SecretNeed = z
  .object({
    /** The environment variable the skill reads. */
    env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name"),
    description: z.string().max(1024).default(""),
    optional: z.boolean().default(false),
  })
  .strict();
export type SecretNeed = z.infer<typeof SecretNeed>;

export const SkillManifest = z
  .object({
    kubernetes: KubernetesNeeds.optional(),
    egress: z.array(EgressNeed).default([]),
    secrets: z.array(SecretNeed).default([]),
    /** Longest one tool call may take (a tool may declare less); the runtime and the ksvc's timeoutSeconds follow it. */
    timeoutSeconds: z.number().int().min(1).max(600).default(30),
    /** Largest serialized result the runtime returns. */
    maxOutputBytes: z
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 * 1024)
      .default(256 * 1024),
  })
  .strict();
export type SkillManifest = z.infer<typeof SkillManifest>;
export type SkillManifestInput = z.input<typeof SkillManifest>;

/** Identity helper so a manifest.ts is type-checked where it is written. */
export function defineManifest(manifest: SkillManifestInput): SkillManifestInput {
  return manifest;
}
