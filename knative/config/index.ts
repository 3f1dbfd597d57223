/** The knclaw.yaml platform config: schema, loading, and the function inventory it implies. */
export { ConfigError, type ConfigIssue, formatIssue } from "./errors.ts";
export { listFunctions } from "./functions.ts";
export { defaultConfigPath, loadConfig, validateConfigValue } from "./load.ts";
export { platformConfigJsonSchema } from "./schema.ts";
export { configWarnings } from "./warnings.ts";
