/**
 * Section `instances`: the agent instances. Each renders a ksvc `agent-<name>` running functions/agent, its
 * Triggers, its ServiceAccount and NetworkPolicy, and one PingSource per schedule. The agent engineer extends this
 * file (provider settings, prompts).
 */
import { z } from "zod";
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
    if (entry.name.startsWith("knclaw-")) {
      ctx.addIssue({
        code: "custom",
        input: entry.name,
        path: ["name"],
        message: "schedule names starting with knclaw- are reserved (knclaw-sweep is the agent's housekeeping tick)",
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
export type ScheduleConfig = z.infer<typeof Schedule>;

export const Provider = z.strictObject({
  /** API base URL (required for openai-compatible servers such as Ollama or vLLM). */
  baseUrl: z.url({ protocol: /^https?$/, message: "an http(s) URL" }).optional(),
  apiKey: SecretRef.optional(),
});

const Price = z.object({ inputPerMTok: z.number().nonnegative(), outputPerMTok: z.number().nonnegative() }).strict();

/**
 * `instances.<name>.agent`: how the agent function behaves (added by the agent engineer; functions/agent/config.ts
 * documents the environment it arrives in as KNCLAW_AGENT). Every field has a default, so the block is optional.
 */
export const AgentSettings = z
  .object({
    /** The instance's own instructions, first in every system prompt. */
    systemPrompt: z
      .string()
      .max(32 * 1024)
      .default("You are a helpful assistant."),
    session: z
      .object({
        scope: z.enum(["main", "sender", "channel-sender", "thread"]).default("channel-sender"),
        /** Start a new session after this long without messages. */
        idleMinutes: z.number().int().positive().max(525_600).optional(),
      })
      .strict()
      .prefault({}),
    /** The model's context window, and the share the session history may take of what is left after the rest. */
    contextTokens: z.number().int().min(1024).default(128_000),
    maxOutputTokens: z.number().int().positive().default(4096),
    temperature: z.number().min(0).max(2).optional(),
    /** USD per million tokens by `provider/model`; a model without an entry costs 0. */
    prices: z.record(z.string(), Price).default({}),
    /** Extra tool groups: group -> `<skill>.<tool>` / `<skill>.*` members. */
    groups: z.record(z.string().regex(/^[a-z0-9-]+:[a-z0-9*-]+$/), z.array(z.string())).default({}),
    heartbeat: z
      .object({
        okToken: z.string().min(1).max(64).default("HEARTBEAT_OK"),
        ackMaxChars: z.number().int().min(0).default(300),
      })
      .strict()
      .prefault({}),
    notes: z
      .object({ limit: z.number().int().min(0).max(50).default(5) })
      .strict()
      .prefault({}),
    /** Compact the session into a summary once it holds more than this many tokens. */
    compactAboveTokens: z.number().int().positive().optional(),
    /** Stream model output and send text that precedes tool calls right away (lower latency to the first update). */
    stream: z.boolean().default(true),
    sendPreamble: z.boolean().default(true),
    /** OpenAI-compatible servers that refuse `stream_options` set this to false. */
    includeUsage: z.boolean().default(true),
    /** Grace after a tool's own timeout before an unanswered call is failed as Timeout. */
    toolGraceSeconds: z.number().int().min(1).default(60),
    /** A retry whose backoff exceeds this is not waited for; the model gets the error instead. */
    maxInlineRetryDelaySeconds: z.number().min(0).max(60).default(10),
    capabilityTtlSeconds: z.number().int().min(10).max(86_400).default(600),
  })
  .strict();
export type AgentSettingsConfig = z.infer<typeof AgentSettings>;

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
  /** Agent behaviour: system prompt, session scope, context size, price table, heartbeat token, streaming. */
  agent: AgentSettings.optional(),
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
