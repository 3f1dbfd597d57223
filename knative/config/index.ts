/** The knclaw.yaml platform config: schema, loading, and the function inventory it implies. */
export { ConfigError, type ConfigIssue, formatIssue, formatIssues, formatPath } from "./errors.ts";
export {
  agentFunctionName,
  type Component,
  channelFunctionName,
  type EffectiveKnobs,
  type FunctionSpec,
  listFunctions,
  qualifyImage,
  resolveImage,
  skillFunctionName,
} from "./functions.ts";
export { type ConfigSource, defaultConfigPath, loadConfig, parseConfigText, validateConfigValue } from "./load.ts";
export {
  type PlatformConfig,
  type PlatformConfigInput,
  PlatformConfigSchema,
  platformConfigJsonSchema,
} from "./schema.ts";
export { configWarnings } from "./warnings.ts";
