import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { defineSkill, type SkillDefinition } from "../package/define-skill.ts";
import { skillEnv } from "../runtime/env.ts";
import { createKubernetesHandlers, type KubernetesSkillOptions } from "./handlers.ts";
import { createKubeAccess, kubeSourceFromEnv } from "./kube-access.ts";
import { manifest } from "./manifest.ts";
import { tools } from "./tools.ts";

const SKILL_NAME = "kubernetes";

export function createKubernetesSkill(options: KubernetesSkillOptions): SkillDefinition {
  return defineSkill({ name: SKILL_NAME, manifest, tools, handlers: createKubernetesHandlers(options) });
}

/**
 * From the ksvc's environment: the API connection (in-cluster, or a kubeconfig for `knclaw dev`), and whose identity
 * each call takes. Impersonation of the per-instance ServiceAccount is the default and needs `KNCLAW_NAMESPACE`;
 * `K8S_IMPERSONATION=none` acts as the connection's own user, for a developer's kubeconfig (skills/runtime/env.ts).
 */
export function kubernetesOptionsFromEnv(env: FunctionEnv): KubernetesSkillOptions {
  const mode = skillEnv.read(env, "kubernetesImpersonation");
  const namespace = skillEnv.read(env, "namespace") ?? "";
  if (mode === "instance" && namespace === "")
    throw new EnvError(`${skillEnv.names.namespace} is required to impersonate per-instance identities`);
  return { access: createKubeAccess(kubeSourceFromEnv(env), { impersonation: mode, namespace, skill: SKILL_NAME }) };
}
