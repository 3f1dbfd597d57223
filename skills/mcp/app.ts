import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createLogger } from "../../runtime/log.ts";
import { skillEnv } from "../runtime/env.ts";
import { serveSkill } from "../runtime/serve-skill.ts";
import { mcpEnv } from "./env.ts";
import { createMcpSkill } from "./skill.ts";

/**
 * An MCP server as a skill function (skills/mcp/README.md): one per `skills.<name>.mcp` in knclaw.yaml, under its
 * own ServiceAccount; the skill runtime verifies each call's capability token before the server sees anything.
 */
export function createApp(env: FunctionEnv): FunctionApp {
  const name = skillEnv.read(env, "skill");
  if (name === undefined) throw new EnvError(`${skillEnv.names.skill} is not set`);
  const settings = mcpEnv.read(env, "server");
  const log = createLogger(env, `skill-${name}`);
  const skill = createMcpSkill(name, settings, env, log);
  return serveSkill(skill.definition, {
    env,
    logger: log,
    liveTools: skill.live,
    close: () => skill.connection.close(),
  });
}
