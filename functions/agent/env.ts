import { z } from "zod";
import { TaskContract } from "../../eventing/catalog/contract.ts";
import { InstanceName, ReplyRoute } from "../../eventing/catalog/shared.ts";
import { eventKeysVar } from "../../eventing/trust/env.ts";
import { defineEnv, json, secret, text } from "../../runtime/env-contract.ts";
import { memoryClientVars, platformVars } from "../../runtime/platform-env.ts";
import { SkillDescriptor } from "../../skills/runtime/descriptor.ts";

const Price = z
  .object({
    inputPerMTok: z.number().nonnegative().describe("USD per million input tokens."),
    outputPerMTok: z.number().nonnegative().describe("USD per million output tokens."),
  })
  .strict();

/**
 * `instances.<name>.agent` in knclaw.yaml: how the agent function behaves. The config schema uses this one (its
 * descriptions are the config reference's), the renderer passes it as KNCLAW_AGENT and the function validates it
 * again at startup. Every field has a default, so the block is optional.
 */
export const AgentSettings = z
  .object({
    systemPrompt: z
      .string()
      .max(32 * 1024)
      .default("You are a helpful assistant.")
      .describe("The instance's own instructions, first in every system prompt."),
    session: z
      .object({
        scope: z
          .enum(["main", "sender", "channel-sender", "thread"])
          .default("channel-sender")
          .describe(
            "Which messages share a session: all (`main`), a person's across channels (`sender`, through identity links), one sender on one channel (`channel-sender`), or a thread (`thread`).",
          ),
        idleMinutes: z
          .number()
          .int()
          .positive()
          .max(525_600)
          .optional()
          .describe("Start a new session after this long without messages."),
      })
      .strict()
      .prefault({})
      .describe("How messages are grouped into sessions, the history the model sees."),
    contextTokens: z
      .number()
      .int()
      .min(1024)
      .default(128_000)
      .describe("The model's context window; the session history gets what the rest of the prompt leaves."),
    maxOutputTokens: z.number().int().positive().default(4096).describe("The most tokens one model answer may take."),
    temperature: z.number().min(0).max(2).optional().describe("Sampling temperature; the provider's default if unset."),
    prices: z
      .record(z.string(), Price)
      .default({})
      .describe("Prices by `provider/model`, for cost budgets; a model without an entry costs 0."),
    groups: z
      .record(z.string().regex(/^[a-z0-9-]+:[a-z0-9*-]+$/), z.array(z.string()))
      .default({})
      .describe("Extra tool groups for policies: `group:name` -> `<skill>.<tool>` / `<skill>.*` members."),
    heartbeat: z
      .object({
        okToken: z
          .string()
          .min(1)
          .max(64)
          .default("HEARTBEAT_OK")
          .describe("What the model answers a scheduled check when nothing needs attention; that answer is not sent."),
        ackMaxChars: z
          .number()
          .int()
          .min(0)
          .default(300)
          .describe(
            "An answer starting or ending with the token, with at most this many other characters, counts as quiet too.",
          ),
      })
      .strict()
      .prefault({})
      .describe("Scheduled checks that find nothing stay quiet."),
    notes: z
      .object({
        limit: z
          .number()
          .int()
          .min(0)
          .max(50)
          .default(5)
          .describe("Notes found by searching for the user's message, given to the model each turn (0: none)."),
      })
      .strict()
      .prefault({})
      .describe("Long-term notes recalled into the prompt."),
    compactAboveTokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Compact the session into a summary once it holds more than this many tokens."),
    stream: z.boolean().default(true).describe("Stream model output (lower latency to the first update)."),
    sendPreamble: z
      .boolean()
      .default(true)
      .describe("Send the text the model writes before its tool calls right away, while the tools run."),
    includeUsage: z
      .boolean()
      .default(true)
      .describe(
        "Ask for token usage while streaming; OpenAI-compatible servers that refuse `stream_options` need false.",
      ),
    toolGraceSeconds: z
      .number()
      .int()
      .min(1)
      .default(60)
      .describe("Grace after a tool's own timeout before an unanswered call is failed as Timeout."),
    maxInlineRetryDelaySeconds: z
      .number()
      .min(0)
      .max(60)
      .default(10)
      .describe("A retry whose backoff exceeds this is not waited for; the model gets the error instead."),
    capabilityTtlSeconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(600)
      .describe("How long the capability token of a tool call stays valid."),
    modelTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(300)
      .describe("The longest one model call may take; the run's remaining wall-clock budget ends it earlier."),
    modelIdleTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe("The longest a streaming answer may stay silent (before its first chunk and between chunks)."),
    maxOutputBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(256 * 1024)
      .describe(
        "The most bytes of text and tool-call arguments one model answer may have; a longer one ends the call (`model_error:output_too_large`).",
      ),
  })
  .strict();
export type AgentSettings = z.infer<typeof AgentSettings>;

export const ScheduleSettings = z
  .object({
    task: z.string().min(1),
    concurrencyPolicy: z.enum(["Forbid", "Allow", "Replace"]).default("Forbid"),
    replyTo: ReplyRoute.optional(),
  })
  .passthrough();
export type ScheduleSettings = z.infer<typeof ScheduleSettings>;

/** An external skill's tool as knclaw.yaml declares it (`skills.<name>.external.tools`). */
const ExternalTool = z
  .object({
    name: z.string(),
    description: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    mutates: z.boolean().default(false),
    approval: z.boolean().optional(),
    groups: z.array(z.string()).optional(),
  })
  .passthrough();

/** A policy as the renderer passes it: the task contract, with the policy's description (which the agent ignores). */
const Policy = z
  .object({ description: z.string().optional() })
  .passthrough()
  .transform(({ description: _description, ...contract }) => contract)
  .pipe(TaskContract);

/** The agent function's environment: one ksvc per instance. */
export const agentEnv = defineEnv({
  ...platformVars,
  ...memoryClientVars,
  instance: text("KNCLAW_INSTANCE", "the instance's name", InstanceName),
  model: text(
    "KNCLAW_MODEL",
    "`provider/model`: `openai/…`, `anthropic/…`, `openai-compatible/…` (and `ollama/…`, `vllm/…`, `litellm/…`), `demo/…`",
    z
      .string()
      .regex(/^[a-z0-9-]+\/\S+$/, "must be provider/model")
      .default("demo/demo"),
  ),
  baseUrl: text(
    "KNCLAW_PROVIDER_BASE_URL",
    "the instance's model API endpoint (`provider.baseUrl`)",
    z.string().optional(),
  ),
  apiKey: secret(
    "KNCLAW_PROVIDER_API_KEY",
    "the instance's model API key (`provider.apiKey`); OpenAI and Anthropic need one: unset or empty, every run fails with `model_error:missing_credential` naming this variable; optional for compatible servers",
    z.string().optional(),
  ),
  policyName: text("KNCLAW_POLICY_NAME", "the name of the instance's policy", z.string().default("default")),
  policy: json("KNCLAW_POLICY", "the policy's task contract (its description is ignored)", Policy.default({})),
  skills: json(
    "KNCLAW_SKILLS",
    "skill names the instance may use; unset: the skills of KNCLAW_SKILL_CATALOG",
    z.array(z.string()).optional(),
  ),
  externalTools: json(
    "KNCLAW_EXTERNAL_TOOLS",
    "`{skill: [{name, description, parameters, mutates}]}` for external skills; a mutating tool needs approval by default",
    z.record(z.string(), z.array(ExternalTool)).default({}),
  ),
  skillEndpoints: json(
    "KNCLAW_SKILL_ENDPOINTS",
    "`{skill: url}` of skills that discover their tools at run time (MCP servers): their descriptors are read from `<url>/.well-known/knclaw-skill` and re-read every 30 s",
    z.record(z.string(), z.url({ protocol: /^https?$/ })).default({}),
  ),
  skillCatalog: json(
    "KNCLAW_SKILL_CATALOG",
    "skill descriptors (tool schemas, instructions), rendered for built-in skills; a skill in neither it nor KNCLAW_EXTERNAL_TOOLS is described from `skills/<name>/`",
    z.array(SkillDescriptor).optional(),
  ),
  skillFolders: json(
    "KNCLAW_SKILL_FOLDERS",
    "folders of SKILL.md skill folders, read at start for skills named in KNCLAW_SKILLS that no catalog describes; a later folder's skill replaces an earlier one of the same name. Rendered for a cluster: the read-only mount of the instance's folder skills' ConfigMaps (`/var/run/knclaw/skill-folders`); under `knclaw dev`: config `skillFolders` as they are",
    z.array(z.string().min(1)).default([]),
  ),
  configPathsSet: json(
    "KNCLAW_CONFIG_PATHS_SET",
    "the `requires.config` paths of the instance's folder skills that knclaw.yaml sets (rendered: the agent has no knclaw.yaml); any other such path counts as unset",
    z.array(z.string()).default([]),
  ),
  channels: json("KNCLAW_CHANNELS", "channel types the instance answers on", z.array(z.string()).default([])),
  schedules: json(
    "KNCLAW_SCHEDULES",
    "`{name: {task, concurrencyPolicy, replyTo}}`: the instance's schedules (a tick's own data is never used)",
    z.record(z.string(), ScheduleSettings).default({}),
  ),
  signingKey: secret(
    "KNCLAW_SIGNING_KEY",
    "Ed25519 private key (PEM or base64) of the instance: it signs the capability tokens of tool calls and every event the agent emits (as `agent/<instance>`)",
  ),
  ...eventKeysVar,
  settings: json(
    "KNCLAW_AGENT",
    "`instances.<name>.agent`: system prompt, session scope, context and output tokens, prices, groups, heartbeat, notes, streaming, retry and grace limits",
    AgentSettings.prefault({}),
  ),
});
