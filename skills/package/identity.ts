/**
 * Names the renderer and the skills agree on for per-instance identities (manifest `kubernetes.identity: instance`):
 * the renderer creates one ServiceAccount per (skill, instance) holding only what that instance's config grants, and
 * the skill impersonates it for that instance's calls, so Kubernetes RBAC itself keeps instances apart.
 */
export function instanceServiceAccountName(skill: string, instance: string): string {
  return `skill-${skill}-${instance}`;
}

/** The user name Kubernetes gives a ServiceAccount, as Impersonate-User takes it. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}
