import { createHash } from "node:crypto";
import type { ToolDescriptor } from "../../../skills/runtime/descriptor.ts";
import type { ModelTool } from "../providers/model.ts";
import { type ArgumentsCheck, compileArguments } from "./argument-schema.ts";

/**
 * The tools an instance's skills offer, under the names the model sees. Model-facing names must match
 * `[a-zA-Z0-9_-]{1,64}` for every provider, so `<skill>.<tool>` becomes `<skill>__<tool>` (shortened with a hash
 * suffix when too long). Names are looked up in a table, never split, so no name can be crafted to reach a tool the
 * table does not hold. A tool whose argument schema cannot be compiled is withheld (listed in `withheld` with the
 * reason): it is neither offered to the model nor callable, since its arguments could not be validated.
 */
export interface CatalogTool {
  modelName: string;
  skill: string;
  tool: string;
  /** `<skill>.<tool>`: how policies name it. */
  ref: string;
  descriptor: ToolDescriptor;
  groups: readonly string[];
  /** The arguments' issues against the descriptor's JSON Schema, compiled once. */
  checkArguments: ArgumentsCheck;
}

/** A tool the catalog refused to offer, and why. */
interface WithheldTool {
  modelName: string;
  ref: string;
  reason: string;
}

/** A skill as the agent knows it: a descriptor, or instructions only (no tools). */
export interface SkillInfo {
  name: string;
  instructions?: string | undefined;
  tools: readonly ToolDescriptor[];
  /**
   * Why the skill is not offered to the model (its OpenClaw gating is unmet here, or it says
   * `disable-model-invocation`): its instructions stay out of the prompt and a call to any of its tools is refused
   * as `Unavailable` with this reason.
   */
  withheld?: string | undefined;
}

export class ToolCatalog {
  readonly tools: readonly CatalogTool[];
  readonly withheld: readonly WithheldTool[];
  readonly instructions: ReadonlyArray<{ skill: string; text: string }>;
  private readonly byModelName: Map<string, CatalogTool>;
  private readonly byRef: Map<string, CatalogTool>;

  constructor(skills: readonly SkillInfo[], extraGroups: Readonly<Record<string, readonly string[]>> = {}) {
    const tools: CatalogTool[] = [];
    const withheld: WithheldTool[] = [];
    this.byModelName = new Map();
    this.byRef = new Map();
    for (const skill of skills) {
      for (const descriptor of skill.tools) {
        const ref = `${skill.name}.${descriptor.name}`;
        const modelName = modelToolName(skill.name, descriptor.name);
        if (skill.withheld !== undefined) {
          withheld.push({ modelName, ref, reason: skill.withheld });
          continue;
        }
        const schema = compileArguments(descriptor.inputSchema);
        if (!schema.ok) {
          withheld.push({ modelName, ref, reason: schema.reason });
          continue;
        }
        const groups = new Set(descriptor.groups);
        for (const [group, members] of Object.entries(extraGroups)) {
          if (members.includes(ref) || members.includes(`${skill.name}.*`)) groups.add(group);
        }
        const entry: CatalogTool = {
          modelName,
          skill: skill.name,
          tool: descriptor.name,
          ref,
          descriptor,
          groups: [...groups],
          checkArguments: schema.check,
        };
        if (this.byModelName.has(entry.modelName)) throw new Error(`two tools share the model name ${entry.modelName}`);
        this.byModelName.set(entry.modelName, entry);
        this.byRef.set(ref, entry);
        tools.push(entry);
      }
    }
    this.tools = tools;
    this.withheld = withheld;
    this.instructions = skills
      .filter((skill) => skill.withheld === undefined)
      .filter((skill) => skill.instructions !== undefined && skill.instructions.trim() !== "")
      .map((skill) => ({ skill: skill.name, text: skill.instructions!.trim() }));
  }

  byModel(name: string): CatalogTool | undefined {
    return this.byModelName.get(name);
  }

  byReference(ref: string): CatalogTool | undefined {
    return this.byRef.get(ref);
  }

  modelTools(include: (tool: CatalogTool) => boolean = () => true): ModelTool[] {
    return this.tools.filter(include).map((tool) => ({
      name: tool.modelName,
      description: `[${tool.ref}] ${tool.descriptor.description}`.slice(0, 1024),
      parameters: tool.descriptor.inputSchema,
    }));
  }
}

export function modelToolName(skill: string, tool: string): string {
  const name = `${skill}__${tool}`;
  if (name.length <= 64) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, 55)}_${hash}`;
}
