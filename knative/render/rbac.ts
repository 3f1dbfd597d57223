/**
 * Identities: one ServiceAccount per function, so every agent instance and every skill acts as itself. Tokens are
 * not mounted unless the function calls the Kubernetes API (a skill with RBAC rules); such a skill gets a Role and
 * RoleBinding with exactly its rules in each namespace it is granted (its own namespace when it has no grants).
 * In a granted namespace the names carry the platform's namespace too: two platforms granted the same namespace
 * (two installs, a staging and a production one) would otherwise apply the same Role and take it from each other.
 */
import type { FunctionSpec } from "../config/functions.ts";
import { functionLabels, metadata, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

export function renderServiceAccount(ctx: RenderContext, fn: FunctionSpec): RenderedObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: metadata(ctx, fn.name, functionLabels(ctx, fn)),
    automountServiceAccountToken: fn.kubeApi,
  };
}

export function renderSkillRbac(ctx: RenderContext, fn: FunctionSpec): RenderedObject[] {
  if (fn.skill === undefined) return [];
  const skill = ctx.config.skills[fn.skill]!;
  if (skill.rbac === undefined) return [];
  const granted = new Set<string>();
  for (const grant of Object.values(skill.grants)) for (const ns of grant.namespaces) granted.add(ns);
  if (granted.size === 0) granted.add(ctx.namespace);
  const labels = functionLabels(ctx, fn);
  const out: RenderedObject[] = [];
  for (const namespace of [...granted].sort()) {
    const roleName = namespace === ctx.namespace ? `knclaw-${fn.name}` : `knclaw-${ctx.namespace}-${fn.name}`;
    out.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { ...metadata(ctx, roleName, labels), namespace },
      rules: skill.rbac.rules.map((rule) => ({
        apiGroups: [...rule.apiGroups],
        resources: [...rule.resources],
        verbs: [...rule.verbs],
        ...(rule.resourceNames ? { resourceNames: [...rule.resourceNames] } : {}),
      })),
    });
    out.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { ...metadata(ctx, roleName, labels), namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
      subjects: [{ kind: "ServiceAccount", name: fn.name, namespace: ctx.namespace }],
    });
  }
  return out;
}
