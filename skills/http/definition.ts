import type { FunctionEnv } from "../../runtime/function.ts";
import { defineSkill, type SkillDefinition } from "../package/define-skill.ts";
import { skillEnv } from "../runtime/env.ts";
import { allowListFromEnv } from "./allow-list.ts";
import { createHttpHandlers, type HttpSkillOptions } from "./handlers.ts";
import { manifest } from "./manifest.ts";
import { tools } from "./tools.ts";

const SKILL_NAME = "http";

export function createHttpSkill(options: HttpSkillOptions): SkillDefinition {
  return defineSkill({ name: SKILL_NAME, manifest, tools, handlers: createHttpHandlers(options) });
}

/**
 * Options from the ksvc's environment. The allow-list is rendered from the skill's `egress` hosts in knclaw.yaml into
 * `KNCLAW_ALLOWED_HOSTS` (a reserved name: only the renderer sets it); there is deliberately
 * no environment switch for the address policy — loopback and private ranges stay closed on every deployment.
 */
export function httpOptionsFromEnv(env: FunctionEnv): HttpSkillOptions {
  return {
    allowList: allowListFromEnv(skillEnv.read(env, "allowedHosts")),
    timeoutMs: skillEnv.read(env, "httpTimeoutMs"),
    maxResponseBytes: skillEnv.read(env, "httpMaxResponseBytes"),
    maxRedirects: skillEnv.read(env, "httpMaxRedirects"),
    maxTextBytes: 192 * 1024,
  };
}
