import type { FunctionEnv } from "../../runtime/function.ts";
import { defineSkill, type SkillDefinition } from "../package/define-skill.ts";
import { skillEnv } from "../runtime/env.ts";
import { allowListFromEnv } from "./allow-list.ts";
import { createHttpHandlers, type HttpSkillOptions } from "./handlers.ts";
import { manifest } from "./manifest.ts";
import { tools } from "./tools.ts";

export const SKILL_NAME = "http";

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
    timeoutMs: positive(env.HTTP_TIMEOUT_MS, 10_000, "HTTP_TIMEOUT_MS"),
    maxResponseBytes: positive(env.HTTP_MAX_RESPONSE_BYTES, 1024 * 1024, "HTTP_MAX_RESPONSE_BYTES"),
    maxRedirects: positive(env.HTTP_MAX_REDIRECTS, 5, "HTTP_MAX_REDIRECTS", true),
    maxTextBytes: 192 * 1024,
  };
}

function positive(value: string | undefined, fallback: number, name: string, zeroAllowed = false): number {
  if (value === undefined || value.trim() === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < (zeroAllowed ? 0 : 1))
    throw new Error(`${name} must be a positive integer`);
  return parsed;
}
