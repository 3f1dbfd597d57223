import { z } from "zod";
import { TaskContract } from "../../eventing/catalog/contract.ts";
import { InstanceName } from "../../eventing/catalog/shared.ts";
import { AgentSettings as AgentSettingsSchema } from "../../knative/config/sections/instances.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { jsonEnv } from "../../runtime/json-env.ts";
import { SkillDescriptor, type SkillDescriptorInput } from "../../skills/runtime/descriptor.ts";
import type { SkillInfo } from "./tools/catalog.ts";

/**
 * The agent's configuration, all from its container environment (what the renderer puts on the ksvc, or what
 * `knclaw dev` passes in-process):
 *
 * | variable | content |
 * | --- | --- |
 * | KNCLAW_INSTANCE | instance name |
 * | KNCLAW_MODEL | `provider/model` (`openai/gpt-4o`, `anthropic/claude-...`, `openai-compatible/llama3.1`, `ollama/...`, `demo/demo`) |
 * | KNCLAW_PROVIDER_BASE_URL, KNCLAW_PROVIDER_API_KEY | per-instance provider endpoint and key (the key from a Secret) |
 * | KNCLAW_POLICY_NAME, KNCLAW_POLICY | the policy's name and its task contract as JSON |
 * | KNCLAW_SKILLS | JSON list of skill names the instance may use |
 * | KNCLAW_SKILL_CATALOG | optional JSON list of skill descriptors (tool schemas + instructions), rendered for built-in skills; a skill in neither it nor KNCLAW_EXTERNAL_TOOLS is described from skills/<name>/ |
 * | KNCLAW_EXTERNAL_TOOLS | JSON `{skill: [{name, description, parameters, mutates}]}` for external skills |
 * | KNCLAW_SCHEDULES | JSON `{name: {task, concurrencyPolicy}}` |
 * | KNCLAW_CHANNELS | JSON list of channel types |
 * | KNCLAW_AGENT | optional JSON AgentSettings (prompt, session scope, context size, prices, ...) |
 * | KNCLAW_SIGNING_KEY | Ed25519 private key (PEM or base64) signing capability tokens |
 * | K_SINK, K_CE_OVERRIDES | where events go (SinkBinding) |
 * | KNCLAW_MEMORY_URL, KNCLAW_MEMORY_TOKEN | the memory service and this instance's token |
 */

// The settings schema lives with the instance config (knclaw.yaml `instances.<name>.agent`); the renderer passes it
// as KNCLAW_AGENT and this function validates it again at startup.
export const AgentSettings = AgentSettingsSchema;
export type AgentSettings = z.infer<typeof AgentSettingsSchema>;

export const ScheduleSettings = z
  .object({ task: z.string().min(1), concurrencyPolicy: z.enum(["Forbid", "Allow", "Replace"]).default("Forbid") })
  .passthrough();
export type ScheduleSettings = z.infer<typeof ScheduleSettings>;

export interface AgentConfig {
  instance: string;
  /** `provider/model` as configured. */
  model: string;
  baseUrl: string | undefined;
  apiKey: string | undefined;
  policyName: string;
  policy: TaskContract;
  skills: SkillInfo[];
  /** Skills named in KNCLAW_SKILLS that could not be described (reported at startup, not offered). */
  unavailableSkills: Array<{ skill: string; reason: string }>;
  schedules: Record<string, ScheduleSettings>;
  channels: string[];
  settings: AgentSettings;
}

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentConfigError";
  }
}

/** Loads a built-in skill's descriptor by name (from skills/<name>/ by default); tools may be empty (instructions only). */
export type SkillResolver = (
  name: string,
) => Promise<Omit<SkillDescriptorInput, "tools"> & { tools: SkillDescriptorInput["tools"] }>;

export async function loadAgentConfig(env: FunctionEnv, resolveSkill?: SkillResolver): Promise<AgentConfig> {
  const instance = env.KNCLAW_INSTANCE;
  if (!instance || !InstanceName.safeParse(instance).success)
    throw new AgentConfigError("KNCLAW_INSTANCE must name the instance");
  const model = env.KNCLAW_MODEL ?? "demo/demo";
  if (!/^[a-z0-9-]+\/\S+$/.test(model)) throw new AgentConfigError("KNCLAW_MODEL must be provider/model");
  const policyJson = json(env, "KNCLAW_POLICY", {}) as Record<string, unknown>;
  const { description: _description, ...contract } = policyJson ?? {};
  const policy = parse(TaskContract, contract, "KNCLAW_POLICY");
  const settings = parse(AgentSettings, json(env, "KNCLAW_AGENT", {}), "KNCLAW_AGENT");
  const schedules = parse(
    z.record(z.string(), ScheduleSettings),
    json(env, "KNCLAW_SCHEDULES", {}),
    "KNCLAW_SCHEDULES",
  );
  const channels = parse(z.array(z.string()), json(env, "KNCLAW_CHANNELS", []), "KNCLAW_CHANNELS");
  const unavailable: Array<{ skill: string; reason: string }> = [];
  return {
    instance,
    model,
    baseUrl: nonEmpty(env.KNCLAW_PROVIDER_BASE_URL),
    apiKey: nonEmpty(env.KNCLAW_PROVIDER_API_KEY),
    policyName: nonEmpty(env.KNCLAW_POLICY_NAME) ?? "default",
    policy,
    skills: await skillDescriptors(env, resolveSkill, unavailable),
    unavailableSkills: unavailable,
    schedules,
    channels,
    settings,
  };
}

async function skillDescriptors(
  env: FunctionEnv,
  resolveSkill: SkillResolver | undefined,
  unavailable: Array<{ skill: string; reason: string }>,
): Promise<SkillInfo[]> {
  // The renderer describes built-in skills in KNCLAW_SKILL_CATALOG, because a bundled function has no skills/ folder
  // to read them from; external skills come from KNCLAW_EXTERNAL_TOOLS; anything else is looked up by name.
  const rawCatalog = json(env, "KNCLAW_SKILL_CATALOG", undefined);
  const catalog = new Map(
    (rawCatalog === undefined ? [] : parse(z.array(SkillDescriptor), rawCatalog, "KNCLAW_SKILL_CATALOG")).map(
      (descriptor) => [descriptor.name, descriptor] as const,
    ),
  );
  const names =
    env.KNCLAW_SKILLS === undefined
      ? [...catalog.keys()]
      : parse(z.array(z.string()), json(env, "KNCLAW_SKILLS", []), "KNCLAW_SKILLS");
  const external = parse(
    z.record(
      z.string(),
      z.array(
        z
          .object({
            name: z.string(),
            description: z.string(),
            parameters: z.record(z.string(), z.unknown()),
            mutates: z.boolean().default(false),
            approval: z.boolean().optional(),
            groups: z.array(z.string()).optional(),
          })
          .passthrough(),
      ),
    ),
    json(env, "KNCLAW_EXTERNAL_TOOLS", {}),
    "KNCLAW_EXTERNAL_TOOLS",
  );
  const out: SkillInfo[] = [];
  for (const name of names) {
    const tools = external[name];
    if (tools !== undefined) {
      out.push(
        parse(
          SkillDescriptor,
          {
            name,
            tools: tools.map((tool) => ({
              name: tool.name,
              description: tool.description,
              inputSchema: tool.parameters,
              mutates: tool.mutates,
              // A mutating external tool needs approval unless configured otherwise: its code is not ours to trust.
              approval: tool.approval ?? tool.mutates,
              groups: tool.groups ?? [],
            })),
          },
          `KNCLAW_EXTERNAL_TOOLS.${name}`,
        ),
      );
      continue;
    }
    const fromCatalog = catalog.get(name);
    if (fromCatalog !== undefined) {
      out.push(fromCatalog);
      continue;
    }
    if (resolveSkill === undefined)
      throw new AgentConfigError(`skill ${name}: no descriptor (set KNCLAW_SKILL_CATALOG)`);
    let described: Awaited<ReturnType<SkillResolver>>;
    try {
      described = await resolveSkill(name);
    } catch (error) {
      // One missing skill must not keep the instance from answering: its tools are simply not offered (and a call
      // naming them is refused as unknown). The problem is reported at startup.
      unavailable.push({ skill: name, reason: (error as Error).message });
      continue;
    }
    // An instructions-only skill has no tools: it still contributes instructions.
    if (described.tools.length === 0) {
      out.push({ name, instructions: described.instructions ?? "", tools: [] });
      continue;
    }
    out.push(parse(SkillDescriptor, described, `skill ${name}`));
  }
  return out;
}

function json(env: FunctionEnv, name: string, fallback: unknown): unknown {
  try {
    return jsonEnv(env, name) ?? fallback;
  } catch (error) {
    throw new AgentConfigError((error as Error).message);
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new AgentConfigError(`${what}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
