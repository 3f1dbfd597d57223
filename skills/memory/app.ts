import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { serveSkill } from "../runtime/serve-skill.ts";
import { createMemorySkill, memoryOptionsFromEnv } from "./definition.ts";

/** The memory skill as a function: notes of the instance named by each call's capability token, nothing else. */
export function createApp(env: FunctionEnv): FunctionApp {
  return serveSkill(createMemorySkill(memoryOptionsFromEnv(env)), { env });
}
