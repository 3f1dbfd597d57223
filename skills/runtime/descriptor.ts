import { z } from "zod";

/**
 * What an agent needs to know about a skill without running its code: the tools' JSON Schemas, whether they mutate
 * and need approval by default, the groups they belong to (`k8s:read`), and the SKILL.md instructions. Built-in
 * skills produce it from their tool declarations (`describeSkill`, skills/package/define-skill.ts); an external skill
 * (any language, any HTTP endpoint) declares it in knclaw.yaml. The renderer passes these to each agent instance in
 * its config.
 */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const GROUP_NAME = /^[a-z0-9][a-z0-9-]*:[a-z0-9*][a-z0-9-*]*$/;

const JsonSchemaObject = z.record(z.string(), z.unknown());

export const ToolDescriptor = z
  .object({
    name: z.string().regex(TOOL_NAME),
    description: z.string().max(4096),
    /** JSON Schema (draft 2020-12) of the arguments object. */
    inputSchema: JsonSchemaObject,
    mutates: z.boolean().default(false),
    /** Needs a human approval unless the policy says otherwise. */
    approval: z.boolean().default(false),
    groups: z.array(z.string().regex(GROUP_NAME)).max(32).default([]),
    timeoutSeconds: z.number().positive().max(3600).optional(),
  })
  .strict();
export type ToolDescriptor = z.infer<typeof ToolDescriptor>;

export const SkillDescriptor = z
  .object({
    name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
    description: z.string().max(4096).optional(),
    /** The SKILL.md body: instructions shown to the model when the instance may use this skill. */
    instructions: z
      .string()
      .max(64 * 1024)
      .optional(),
    tools: z.array(ToolDescriptor).min(1).max(128),
  })
  .strict();
export type SkillDescriptor = z.infer<typeof SkillDescriptor>;
export type SkillDescriptorInput = z.input<typeof SkillDescriptor>;
