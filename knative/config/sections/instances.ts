/**
 * Section `instances`: the agent instances. Each renders a ksvc `agent-<name>` running functions/agent, its
 * Triggers, its ServiceAccount and NetworkPolicy, and one PingSource per schedule. The agent engineer extends this
 * file (provider settings, prompts).
 */
import { z } from "zod";
import { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import { AgentSettings } from "../../../functions/agent/env.ts";
import { checkPingSchedule } from "../../../runtime/cron.ts";
import { checkTimezone } from "../../../runtime/timezone.ts";
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
  // The compatible servers the agent knows by name (functions/agent/providers/registry.ts): Ollama has a default base
  // URL (its local port, which suits knclaw dev; on a cluster set provider.baseUrl to where it is served).
  ollama: { apiKey: false, baseUrl: false },
  vllm: { apiKey: false, baseUrl: true },
  litellm: { apiKey: false, baseUrl: true },
  demo: { apiKey: false, baseUrl: false },
};

const Schedule = z
  .strictObject({
    name: z
      .string()
      .refine((v) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v), {
        message: "lowercase letters, digits and '-'",
        ...ruleParams("name"),
      })
      .describe("The schedule's name (`knclaw-*` is reserved); the PingSource is `agent-<instance>-<name>`."),
    schedule: z
      .string()
      .min(1)
      .describe("Cron, as a PingSource takes it: 5 fields (or 6 with leading seconds), or @hourly-style descriptors."),
    timezone: z.string().optional().describe("IANA time zone; UTC when omitted."),
    task: z.string().min(1).max(4096).describe("What the agent is asked to do on each tick (the PingSource data)."),
    concurrencyPolicy: z
      .enum(["Forbid", "Allow", "Replace"])
      .default("Forbid")
      .describe("What happens when a tick arrives while the previous run of this schedule is still going."),
    replyTo: ReplyRoute.optional().describe(
      "Where the schedule's answers go (`channel`, `conversation`, optional `thread` and `workspace`); none: only the run's outcome.",
    ),
  })
  .superRefine((entry, ctx) => {
    if (entry.name.startsWith("knclaw-")) {
      ctx.addIssue({
        code: "custom",
        input: entry.name,
        path: ["name"],
        message: "schedule names starting with knclaw- are reserved for the platform's own ticks",
        params: { rule: "name" },
      });
    }
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

const Provider = z.strictObject({
  baseUrl: z
    .url({ protocol: /^https?$/, message: "an http(s) URL" })
    .optional()
    .describe("API base URL (required for `openai-compatible`, `vllm` and `litellm`; Ollama's local port by default)."),
  apiKey: SecretRef.optional().describe("The provider's API key (required for `openai` and `anthropic`)."),
});

const Instance = KsvcKnobs.extend({
  description: z.string().max(1024).optional().describe("What this instance is for."),
  model: z
    .string()
    .refine((v) => /^[a-z0-9-]+\/[A-Za-z0-9._:/-]+$/.test(v), {
      message: "provider/model, e.g. openai/gpt-4o",
      ...ruleParams("model"),
    })
    .describe(
      "`provider/model`: `openai/gpt-4o`, `anthropic/<model>`, `openai-compatible/<model>` (with `provider.baseUrl`), `ollama/<model>` (`provider.baseUrl` defaults to http://127.0.0.1:11434/v1), `vllm/<model>` or `litellm/<model>` (with `provider.baseUrl`), or `demo/echo` (deterministic, no key).",
    ),
  provider: Provider.prefault({}).describe("Where the model is served and the key to call it with."),
  policy: ComponentName.default("default").describe(
    "Name of the policy (task contract) every run of this instance is held to.",
  ),
  skills: z.array(ComponentName).default([]).describe("Skills this instance may call."),
  channels: z.array(ConfigChannelType).default([]).describe("Channel types this instance answers on."),
  schedules: z
    .array(Schedule)
    .default([])
    .describe("Cron schedules: each renders a PingSource whose ticks start a run with the schedule's task."),
  signingKey: SecretRef.optional().describe(
    "Ed25519 key signing capability tokens; defaults to key `<instance>` of Secret `knclaw-agent-keys`.",
  ),
  publicKey: z
    .string()
    .min(32)
    .max(4096)
    .optional()
    .describe(
      "The matching public key (PEM or base64; not a secret). Skills this instance uses trust it through KNCLAW_AGENT_KEYS; without it they cannot verify this instance's tool calls on a cluster.",
    ),
  egress: z.array(EgressRule).default([]).describe("Extra egress beyond the model provider."),
  delivery: Delivery.optional().describe("Delivery for this instance's Triggers (replaces the broker's wholesale)."),
  agent: AgentSettings.optional().describe(
    "Agent behaviour: system prompt, session scope, context size, price table, heartbeat token, streaming.",
  ),
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

export const instancesSection = {
  instances: z.record(ComponentName, Instance).default({}),
};
