import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { serveSkill } from "../runtime/serve-skill.ts";
import { createKubernetesSkill, kubernetesOptionsFromEnv } from "./definition.ts";

/** The kubernetes skill as a function: every call acts as the calling instance's own ServiceAccount. */
export function createApp(env: FunctionEnv): FunctionApp {
  return serveSkill(createKubernetesSkill(kubernetesOptionsFromEnv(env)), { env });
}
