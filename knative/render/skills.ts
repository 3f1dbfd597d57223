/**
 * What a built-in skill's manifest adds to the render (ARCHITECTURE.md, "Skills"): the RBAC it declares — exactly those
 * rules, no more — bound to the identity the manifest names, the egress and memory access its ksvc needs, and the
 * environment only the renderer may set.
 *
 * Identity `instance` (the kubernetes skill): one ServiceAccount per (skill, instance) that uses the skill and has a
 * grant in `skills.<name>.grants`, holding the manifest's namespaced rules in exactly the granted namespaces (and its
 * cluster rules through a ClusterRole only where the grant says `cluster: true`); the skill's own ServiceAccount may
 * do nothing but impersonate those ServiceAccounts. Kubernetes RBAC itself then keeps each instance inside its
 * namespaces, whatever the skill's code does.
 *
 * Identity `skill`: the skill's own ServiceAccount holds the rules, in every granted namespace (the platform
 * namespace when there are no grants), and its cluster rules when any grant says `cluster: true`.
 *
 * What the manifest means for the function entry itself (token mount, memory access, egress) is decided in
 * knative/config/sections/skills.ts (builtinSkillNeeds), which listFunctions folds into the FunctionSpec.
 */

import type { EnvVar } from "../../runtime/env-contract.ts";
import { LABEL_INSTANCE } from "../../runtime/names.ts";
import { instanceServiceAccountName } from "../../skills/package/identity.ts";
import type { RbacRule } from "../../skills/package/manifest.ts";
import { skillEnv } from "../../skills/runtime/env.ts";
import { builtinSkill } from "../config/builtin-skills.ts";
import type { FunctionSpec } from "../config/functions.ts";
import type { PlatformConfig } from "../config/schema.ts";
import { functionLabels, metadata, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

const RBAC_API = "rbac.authorization.k8s.io/v1";
const RBAC_GROUP = "rbac.authorization.k8s.io";

/** Environment only the renderer sets for a skill (names under the reserved KNCLAW_ prefix). */
export function skillManifestEnv(ctx: RenderContext, skillName: string): EnvVar[] {
  const skill = builtinSkill(skillName);
  if (!skill?.manifest.egress.some((need) => need.kind === "configured-hosts")) return [];
  return skillEnv.render({ allowedHosts: allowedHosts(ctx.config, skillName) });
}

/** The skill's config egress hosts with their ports, as the skill's allow-list reads them (`host:port`). */
function allowedHosts(config: PlatformConfig, skill: string): string {
  const entries = new Set<string>();
  for (const rule of config.skills[skill]?.egress ?? []) {
    if (rule.host === undefined) continue;
    for (const port of rule.ports) entries.add(`${rule.host}:${port}`);
  }
  return [...entries].sort().join(",");
}

/** RBAC objects (and per-instance ServiceAccounts) a built-in skill's manifest asks for; [] for anything else. */
export function renderSkillIdentities(ctx: RenderContext, fn: FunctionSpec): RenderedObject[] {
  if (fn.skill === undefined) return [];
  const skill = builtinSkill(fn.skill);
  const needs = skill?.manifest.kubernetes;
  if (!skill || !needs || (needs.rules.length === 0 && needs.clusterRules.length === 0)) return [];
  const config = ctx.config.skills[fn.skill];
  if (config?.rbac !== undefined) {
    throw new Error(
      `skill ${fn.skill}: its manifest declares its RBAC; remove skills.${fn.skill}.rbac from the config`,
    );
  }
  return needs.identity === "instance"
    ? instanceIdentities(ctx, fn, needs.rules, needs.clusterRules)
    : skillIdentity(ctx, fn, needs.rules, needs.clusterRules);
}

function skillIdentity(
  ctx: RenderContext,
  fn: FunctionSpec,
  rules: RbacRule[],
  clusterRules: RbacRule[],
): RenderedObject[] {
  const grants = Object.values(ctx.config.skills[fn.skill!]?.grants ?? {});
  const namespaces = new Set(grants.flatMap((grant) => grant.namespaces));
  if (namespaces.size === 0) namespaces.add(ctx.namespace);
  const labels = functionLabels(ctx, fn);
  const subject = { kind: "ServiceAccount", name: fn.name, namespace: ctx.namespace };
  const name = `knclaw-${ctx.namespace}-${fn.name}`;
  const out: RenderedObject[] = [];
  if (rules.length > 0) {
    for (const namespace of [...namespaces].sort())
      out.push(...roleAndBinding(ctx, name, namespace, labels, rules, subject));
  }
  if (clusterRules.length > 0 && grants.some((grant) => grantsCluster(grant))) {
    out.push(...clusterRoleAndBinding(ctx, name, labels, clusterRules, subject));
  }
  return out;
}

function instanceIdentities(
  ctx: RenderContext,
  fn: FunctionSpec,
  rules: RbacRule[],
  clusterRules: RbacRule[],
): RenderedObject[] {
  const skillName = fn.skill!;
  const grants = ctx.config.skills[skillName]?.grants ?? {};
  const out: RenderedObject[] = [];
  const impersonated: string[] = [];
  for (const [instance, spec] of Object.entries(ctx.config.instances).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const grant = grants[instance];
    // An instance that does not list the skill gets no identity even if granted: a grant alone acts for nobody.
    if (grant === undefined || !spec.skills.includes(skillName)) continue;
    const serviceAccount = instanceServiceAccountName(skillName, instance);
    impersonated.push(serviceAccount);
    const labels = { ...functionLabels(ctx, fn), [LABEL_INSTANCE]: instance };
    out.push({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: metadata(ctx, serviceAccount, labels),
      // Only ever impersonated: no pod runs as it, so no token is mounted anywhere.
      automountServiceAccountToken: false,
    });
    const subject = { kind: "ServiceAccount", name: serviceAccount, namespace: ctx.namespace };
    const name = `knclaw-${ctx.namespace}-${serviceAccount}`;
    if (rules.length > 0) {
      for (const namespace of [...new Set(grant.namespaces)].sort()) {
        out.push(...roleAndBinding(ctx, name, namespace, labels, rules, subject));
      }
    }
    if (clusterRules.length > 0 && grantsCluster(grant))
      out.push(...clusterRoleAndBinding(ctx, name, labels, clusterRules, subject));
  }
  if (impersonated.length > 0) {
    const rule = {
      apiGroups: [""],
      resources: ["serviceaccounts"],
      verbs: ["impersonate"],
      resourceNames: impersonated.sort(),
    };
    const subject = { kind: "ServiceAccount", name: fn.name, namespace: ctx.namespace };
    out.push(...roleAndBinding(ctx, `${fn.name}-impersonate`, ctx.namespace, functionLabels(ctx, fn), [rule], subject));
  }
  return out;
}

function grantsCluster(grant: { cluster?: boolean }): boolean {
  return grant.cluster === true;
}

function roleAndBinding(
  ctx: RenderContext,
  name: string,
  namespace: string,
  labels: Record<string, string>,
  rules: Array<RbacRule | { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>,
  subject: { kind: string; name: string; namespace: string },
): RenderedObject[] {
  return [
    {
      apiVersion: RBAC_API,
      kind: "Role",
      metadata: { ...metadata(ctx, name, labels), namespace },
      rules: rules.map(copyRule),
    },
    {
      apiVersion: RBAC_API,
      kind: "RoleBinding",
      metadata: { ...metadata(ctx, name, labels), namespace },
      roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name },
      subjects: [{ ...subject }],
    },
  ];
}

function clusterRoleAndBinding(
  ctx: RenderContext,
  name: string,
  labels: Record<string, string>,
  rules: RbacRule[],
  subject: { kind: string; name: string; namespace: string },
): RenderedObject[] {
  const meta = () => {
    const { namespace: _namespace, ...rest } = metadata(ctx, name, labels);
    return rest;
  };
  return [
    { apiVersion: RBAC_API, kind: "ClusterRole", metadata: meta(), rules: rules.map(copyRule) },
    {
      apiVersion: RBAC_API,
      kind: "ClusterRoleBinding",
      metadata: meta(),
      roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name },
      subjects: [{ ...subject }],
    },
  ];
}

function copyRule(rule: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }) {
  return {
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
    ...(rule.resourceNames ? { resourceNames: [...rule.resourceNames] } : {}),
  };
}
