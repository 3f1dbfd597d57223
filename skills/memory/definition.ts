import { MemoryClient } from "../../clients/memory/client.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { defineSkill, type SkillDefinition } from "../package/define-skill.ts";
import { createMemoryHandlers, type MemorySkillOptions } from "./handlers.ts";
import { manifest } from "./manifest.ts";
import { tools } from "./tools.ts";

const SKILL_NAME = "memory";

export function createMemorySkill(options: MemorySkillOptions): SkillDefinition {
  return defineSkill({ name: SKILL_NAME, manifest, tools, handlers: createMemoryHandlers(options) });
}

/** The memory service's URL and this skill's notes-scoped token, as the renderer (or `knclaw dev`) sets them. */
export function memoryOptionsFromEnv(
  env: FunctionEnv,
  fetcher?: (request: Request) => Promise<Response>,
): MemorySkillOptions {
  const settings = memoryClientSettings(env);
  return {
    client: new MemoryClient({ ...settings, timeoutMs: 5_000, retries: 2, ...(fetcher ? { fetch: fetcher } : {}) }),
  };
}
