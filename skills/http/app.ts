import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { serveSkill } from "../runtime/serve-skill.ts";
import { createHttpSkill, httpOptionsFromEnv } from "./definition.ts";

/** The http skill as a function: GET/POST to allow-listed public hosts, behind the skill runtime's token check. */
export function createApp(env: FunctionEnv): FunctionApp {
  return serveSkill(createHttpSkill(httpOptionsFromEnv(env)), { env });
}
