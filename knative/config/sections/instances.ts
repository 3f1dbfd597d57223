/**
 * Section `instances`: the agent instances. Each renders a ksvc `agent-<name>` running functions/agent, its
 * Triggers, its ServiceAccount and NetworkPolicy, and one PingSource per schedule. The agent engineer extends this
 * file (provider settings, prompts).
 */
import { z } from "zod";
import { checkPingSchedule } from "../../validate/cron.ts";
import { checkTimezone } from "../../validate/timezone.ts";
import { ComponentName, Delivery, EgressRule, KsvcKnobs, ruleParams, SecretRef } from "../primitives.ts";
import { ConfigChannelType } from "./channels.ts";

/**
 * Model providers the agent function speaks to. `apiKey`: whether `provider.apiKey` is required; `host`: the API
 * host its NetworkPolicy allows when no `baseUrl` is given; `baseUrl`: whether one is required.
 */
export const PROVIDERS: Record<string, { apiKey: boolean; host?: string; baseUrl: boolean }> = {
  openai: { apiKey: true, host: "api.openai.com", baseUrl: false },
  anthropic: { apiKey: true, host: "api.anthropic.com", baseUrl: false },
  "openai-compatible": { apiKey: false, baseUrl: true },
  demo: { apiKey: false, baseUrl: false },
};

export const Schedule = z
  .strictObject({
    name: z.string().refine((v) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v), {
      message: "lowercase letters, digits and '-'",
      ...ruleParams("name"),
    }),
    /** Cron, as a PingSource takes it: 5 fields (or 6 with leading seconds), or @hourly-style descriptors. */
    schedule: z.string().min(1),
    /** IANA time zone; UTC when omitted. */
    timezone: z.string().optional(),
    /** What the agent is asked to do on each tick (the PingSource data). */
    task: z.string().min(1).max(4096),
    /** What happens when a tick arrives while the previous run of this schedule is still going. */
    concurrencyPolicy: z.enum(["Forbid", "Allow", "Replace"]).default("Forbid"),
  })
  .superRefine((entry, ctx) => {
    if (entry.timezone !== undefined) {
      const tz = checkTimezone(entry.timezone);
      if (!tz.ok)
        ctx.addIssue({
          code: "custom",
          input: entry.timezone,
          path: ["timezone"],
          message: tz.message,
          params: { rule: "timezone" },
        });
    }
    const check = checkPingSchedule(entry.schedule, entry.timezone);
    if (!check.ok) {
      for (const problem of check.problems) {
        if (problem.field === "timezone" && entry.timezone !== undefined) continue; // reported above
        ctx.addIssue({
          code: "custom",
          input: entry.schedule,
          path: [problem.field],
          message: problem.message,
          params: { rule: problem.rule },
        });
      }
    } else if (check.neverFires) {
      ctx.addIssue({
        code: "custom",
        input: entry.schedule,
        path: ["schedule"],
        message: "this schedule never fires (no such date)",
        params: { rule: "cron-never-fires" },
      });
    }
  });
export type ScheduleConfig = z.infer<typeof Schedule>;

export const Provider = z.strictObject({
  /** API base URL (required for openai-compatible servers such as Ollama or vLLM). */
  baseUrl: z.url({ protocol: /^https?$/, message: "an http(s) URL" }).optional(),
  apiKey: SecretRef.optional(),
});

export const Instance = KsvcKnobs.extend({
  description: z.string().max(1024).optional(),
  /** `provider/model`, e.g. `anthropic/claude-sonnet-4-5`, `openai/gpt-4o`, `demo/echo`. */
  model: z.string().refine((v) => /^[a-z0-9-]+\/[A-Za-z0-9._:/-]+$/.test(v), {
    message: "provider/model, e.g. openai/gpt-4o",
    ...ruleParams("model"),
  }),
  provider: Provider.prefault({}),
  /** Name of the policy (task contract) every run of this instance is held to. */
  policy: ComponentName.default("default"),
  /** Skills this instance may call. */
  skills: z.array(ComponentName).default([]),
  /** Channel types this instance answers on. */
  channels: z.array(ConfigChannelType).default([]),
  schedules: z.array(Schedule).default([]),
  /** Ed25519 key signing capability tokens; defaults to key `<instance>` of Secret `knclaw-agent-keys`. */
  signingKey: SecretRef.optional(),
  /**
   * The matching public key (PEM or base64; not a secret). Skills this instance uses trust it through
   * KNCLAW_AGENT_KEYS; without it they cannot verify this instance's tool calls on a cluster.
   */
  publicKey: z.string().min(32).max(4096).optional(),
  /** Extra egress beyond the model provider. */
  egress: z.array(EgressRule).default([]),
  /** Delivery for this instance's Triggers (replaces the broker's wholesale). */
  delivery: Delivery.optional(),
}).superRefine((instance, ctx) => {
  const provider = instance.model.split("/")[0]!;
  const known = PROVIDERS[provider];
  if (known === undefined) {
    ctx.addIssue({
      code: "custom",
      input: instance.model,
      path: ["model"],
      message: `unknown provider ${JSON.stringify(provider)} (known: ${Object.keys(PROVIDERS).join(", ")})`,
      params: { rule: "model" },
    });
    return;
  }
  if (known.apiKey && instance.provider.apiKey === undefined) {
    ctx.addIssue({
      code: "custom",
      input: instance.provider,
      path: ["provider", "apiKey"],
      message: `the ${provider} provider needs provider.apiKey (a Secret reference)`,
      params: { rule: "provider" },
    });
  }
  if (known.baseUrl && instance.provider.baseUrl === undefined) {
    ctx.addIssue({
      code: "custom",
      input: instance.provider,
      path: ["provider", "baseUrl"],
      message: `the ${provider} provider needs provider.baseUrl`,
      params: { rule: "provider" },
    });
  }
  const seen = new Set<string>();
  instance.schedules.forEach((schedule, index) => {
    if (seen.has(schedule.name)) {
      ctx.addIssue({
        code: "custom",
        input: schedule.name,
        path: ["schedules", index, "name"],
        message: `duplicate schedule name ${JSON.stringify(schedule.name)}`,
        params: { rule: "unique" },
      });
    }
    seen.add(schedule.name);
  });
});
export type InstanceConfig = z.infer<typeof Instance>;

export const instancesSection = {
  instances: z.record(ComponentName, Instance).default({}),
};
