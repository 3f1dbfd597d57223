/**
 * Section `skills`: tools agents may call (DESIGN.md §7). A built-in skill renders a ksvc `skill-<name>` running
 * skills/<name>/app.ts under its own ServiceAccount, Role/RoleBinding (when it has RBAC rules) and NetworkPolicy.
 * An external skill is a URL: no ksvc, its Trigger delivers tool.requested straight to it. The skills engineer
 * extends this file.
 */
import { z } from "zod";
import { ComponentName, Delivery, EgressRule, KsvcKnobs, KubernetesName, ruleParams } from "../primitives.ts";

const ToolName = z.string().refine((v) => /^[a-zA-Z0-9_-]{1,64}$/.test(v), {
  message: "1-64 of a-z, A-Z, 0-9, _ and -",
  ...ruleParams("tool-name"),
});

export const ExternalTool = z.strictObject({
  name: ToolName,
  description: z.string().min(1).max(4096),
  /** JSON Schema of the arguments (an object schema). */
  parameters: z.record(z.string(), z.unknown()).refine((schema) => schema.type === "object", {
    message: 'a JSON Schema with type: "object"',
    ...ruleParams("json-schema"),
  }),
  /** The tool changes something; the policy gate may require approval. */
  mutates: z.boolean().default(false),
});

export const PolicyRule = z.strictObject({
  apiGroups: z.array(z.string()).min(1),
  resources: z.array(z.string().min(1)).min(1),
  verbs: z
    .array(z.enum(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"]))
    .min(1),
  resourceNames: z.array(z.string().min(1)).optional(),
});

export const Skill = KsvcKnobs.extend({
  enabled: z.boolean().default(true),
  description: z.string().max(1024).optional(),
  external: z
    .strictObject({
      url: z.url({ protocol: /^https?$/, message: "an http(s) URL" }),
      tools: z.array(ExternalTool).min(1),
    })
    .optional(),
  /** Kubernetes RBAC the skill's ServiceAccount gets, in each namespace it is granted. */
  rbac: z.strictObject({ rules: z.array(PolicyRule).min(1) }).optional(),
  /** Per instance: which Kubernetes namespaces this skill may act in for that instance. */
  grants: z.record(ComponentName, z.strictObject({ namespaces: z.array(KubernetesName).min(1) })).default({}),
  /** Hosts and addresses the skill calls. */
  egress: z.array(EgressRule).default([]),
  /** The skill keeps notes through the memory service. */
  memory: z.boolean().default(false),
  /** Delivery for this skill's Trigger (replaces the broker's wholesale). */
  delivery: Delivery.optional(),
}).superRefine((skill, ctx) => {
  if (skill.external === undefined) return;
  const local = [
    "image",
    "rbac",
    "minScale",
    "maxScale",
    "resources",
    "env",
    "secretEnv",
    "containerConcurrency",
    "timeoutSeconds",
  ] as const;
  for (const key of local) {
    if (skill[key] !== undefined) {
      ctx.addIssue({
        code: "custom",
        input: skill[key],
        path: [key],
        message: "an external skill runs elsewhere: ksvc and RBAC settings do not apply",
        params: { rule: "external-skill" },
      });
    }
  }
  if (skill.memory) {
    ctx.addIssue({
      code: "custom",
      input: skill.memory,
      path: ["memory"],
      message: "an external skill gets no memory token",
      params: { rule: "external-skill" },
    });
  }
});
export type SkillConfig = z.infer<typeof Skill>;

export const skillsSection = {
  skills: z.record(ComponentName, Skill).default({}),
};
