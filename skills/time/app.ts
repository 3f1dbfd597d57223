import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { serveSkill } from "../runtime/serve-skill.ts";
import { createTimeSkill } from "./definition.ts";

/** The time skill as a function: the clock, read-only. */
export function createApp(env: FunctionEnv): FunctionApp {
  return serveSkill(createTimeSkill(), { env });
}
