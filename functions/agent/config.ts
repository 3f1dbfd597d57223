import type { z } from "zod";
import type { TaskContract } from "../../eventing/catalog/contract.ts";
import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { SkillDescriptor, type SkillDescriptorInput } from "../../skills/runtime/descriptor.ts";
import { type AgentSettings, agentEnv, type ScheduleSettings } from "./env.ts";
import type { SkillInfo } from "./tools/catalog.ts";

export type { AgentSettings } from "./env.ts";

/** The agent's configuration, all from its container environment (functions/agent/env.ts declares it). */
export interface AgentConfig {
  instance: string;
  /** `provider/model` as configured. */
  model: string;
  baseUrl: string | undefined;
  apiKey: string | undefined;
  policyName: string;
  policy: TaskContract;
  skills: SkillInfo[];
  /** Skills described at run time by their own function (KNCLAW_SKILL_ENDPOINTS): name -> URL. */
  skillEndpoints: Record<string, string>;
  /** Skills named in KNCLAW_SKILLS that could not be described (reported at startup, not offered). */
  unavailableSkills: Array<{ skill: string; reason: string }>;
  schedules: Record<string, ScheduleSettings>;
  channels: string[];
  settings: AgentSettings;
}

/** Loads a built-in skill's descriptor by name (from skills/<name>/ by default); tools may be empty (instructions only). */
export type SkillResolver = (name: string) => Promise<
  Omit<SkillDescriptorInput, "tools"> & {
    tools: SkillDescriptorInput["tools"];
    /** Not offered to the model, and why (tools/catalog.ts). */
    withheld?: string;
  }
>;

export async function loadAgentConfig(env: FunctionEnv, resolveSkill?: SkillResolver): Promise<AgentConfig> {
  // Read one by one rather than agentEnv.parse: the signing key is app.ts's concern, not the configuration's.
  const read = <K extends Parameters<typeof agentEnv.read>[1]>(key: K) => agentEnv.read(env, key);
  const instance = read("instance");
  const model = read("model");
  const policy = read("policy");
  const settings = read("settings");
  const schedules = read("schedules");
  const channels = read("channels");
  const unavailable: Array<{ skill: string; reason: string }> = [];
  return {
    instance,
    model,
    baseUrl: read("baseUrl"),
    apiKey: read("apiKey"),
    policyName: read("policyName"),
    policy,
    skills: await skillDescriptors(env, resolveSkill, unavailable),
    skillEndpoints: agentEnv.read(env, "skillEndpoints"),
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
  const catalog = new Map(
    (agentEnv.read(env, "skillCatalog") ?? []).map((descriptor) => [descriptor.name, descriptor] as const),
  );
  const names = agentEnv.read(env, "skills") ?? [...catalog.keys()];
  const external = agentEnv.read(env, "externalTools");
  const discovered = agentEnv.read(env, "skillEndpoints");
  const out: SkillInfo[] = [];
  for (const name of names) {
    // Described at run time by the skill itself (tools/discovery.ts).
    if (Object.hasOwn(discovered, name)) continue;
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
          `${agentEnv.names.externalTools}.${name}`,
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
      throw new EnvError(`skill ${name}: no descriptor (set ${agentEnv.names.skillCatalog})`);
    let described: Awaited<ReturnType<SkillResolver>>;
    try {
      described = await resolveSkill(name);
    } catch (error) {
      // One missing skill must not keep the instance from answering: its tools are simply not offered (and a call
      // naming them is refused as unknown). The problem is reported at startup.
      unavailable.push({ skill: name, reason: (error as Error).message });
      continue;
    }
    const { withheld, ...descriptor } = described;
    // An instructions-only skill has no tools: it still contributes instructions.
    const info: SkillInfo =
      descriptor.tools.length === 0
        ? { name, instructions: descriptor.instructions ?? "", tools: [] }
        : parse(SkillDescriptor, descriptor, `skill ${name}`);
    out.push(withheld === undefined ? info : { ...info, withheld });
  }
  return out;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new EnvError(`${what}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}
