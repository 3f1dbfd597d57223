/**
 * Names the rendered objects and the functions agree on: labels, annotations, environment variables and Secret keys.
 * A function reads these from its `env`; `knclaw dev` reads the labels and annotations from the rendered objects.
 */

export const LABEL_COMPONENT = "knclaw.dev/component";
export const LABEL_INSTANCE = "knclaw.dev/instance";
export const LABEL_CHANNEL = "knclaw.dev/channel";
export const LABEL_SKILL = "knclaw.dev/skill";
/** On Triggers and PingSources: the route (ARCHITECTURE.md, "Routes") the object belongs to, e.g. `agent-assistant`. */
export const LABEL_ROUTE = "knclaw.dev/route";
export const LABEL_VISIBILITY = "networking.knative.dev/visibility";

/** Path of the function's app.ts relative to the repository root; `knclaw dev` mounts it in-process. */
export const ANNOTATION_ENTRY = "knclaw.dev/entry";
/**
 * Paths of the one `knclaw dev` port forwarded (unstripped) to this ksvc besides `/functions/<name>`: the public
 * webhook paths of a channel adapter and the gateway's API prefixes (cli/dev/path-routes.ts reads it).
 */
export const ANNOTATION_DEV_PATH_PREFIX = "knclaw.dev/dev-path-prefix";
/** On NetworkPolicies: host names the policy's public-internet rules stand for. */
export const ANNOTATION_EGRESS_HOSTS = "knclaw.dev/egress-hosts";
export const ANNOTATION_BROKER_CLASS = "eventing.knative.dev/broker.class";

/** Label Knative Serving puts on every pod of a ksvc; NetworkPolicies select pods with it. */
export const KNATIVE_SERVICE_POD_LABEL = "serving.knative.dev/service";

export const CONTAINER_NAME = "function";
export const CONTAINER_PORT = 8080;

/** Environment variables knclaw sets (K_SINK and K_CE_OVERRIDES come from SinkBindings). */
export const ENV = {
  entry: "KNCLAW_ENTRY",
  component: "KNCLAW_COMPONENT",
  namespace: "KNCLAW_NAMESPACE",
  platform: "KNCLAW_PLATFORM",
  broker: "KNCLAW_BROKER",
  memoryUrl: "KNCLAW_MEMORY_URL",
  memoryToken: "KNCLAW_MEMORY_TOKEN",
  memoryBackend: "KNCLAW_MEMORY_BACKEND",
  memoryTokenSecret: "KNCLAW_MEMORY_TOKEN_SECRET",
  redisUrl: "KNCLAW_REDIS_URL",
  redisKeyPrefix: "KNCLAW_REDIS_KEY_PREFIX",
  instance: "KNCLAW_INSTANCE",
  instances: "KNCLAW_INSTANCES",
  model: "KNCLAW_MODEL",
  providerBaseUrl: "KNCLAW_PROVIDER_BASE_URL",
  providerApiKey: "KNCLAW_PROVIDER_API_KEY",
  policy: "KNCLAW_POLICY",
  policyName: "KNCLAW_POLICY_NAME",
  skills: "KNCLAW_SKILLS",
  externalTools: "KNCLAW_EXTERNAL_TOOLS",
  skillCatalog: "KNCLAW_SKILL_CATALOG",
  channels: "KNCLAW_CHANNELS",
  schedules: "KNCLAW_SCHEDULES",
  signingKey: "KNCLAW_SIGNING_KEY",
  /** The instance's agent settings (instances.<name>.agent) as JSON. */
  agentSettings: "KNCLAW_AGENT",
  channelType: "KNCLAW_CHANNEL_TYPE",
  channelRoutes: "KNCLAW_CHANNEL_ROUTES",
  channelAllow: "KNCLAW_CHANNEL_ALLOW",
  channelDeny: "KNCLAW_CHANNEL_DENY",
  channelAccess: "KNCLAW_CHANNEL_ACCESS",
  channelInstances: "KNCLAW_CHANNEL_INSTANCES",
  webhookHooks: "KNCLAW_WEBHOOK_HOOKS",
  gatewayTokens: "KNCLAW_GATEWAY_TOKENS",
  gatewayTokenPrefix: "KNCLAW_GATEWAY_TOKEN_",
  gatewayRateLimit: "KNCLAW_GATEWAY_RATE_LIMIT",
  gatewayCorsOrigins: "KNCLAW_GATEWAY_CORS_ORIGINS",
  gatewayMaxWaitSeconds: "KNCLAW_GATEWAY_MAX_WAIT_SECONDS",
  deadletterUrl: "KNCLAW_DEADLETTER_URL",
  /** The deadletter function's operator API token (bearer). */
  deadletterToken: "KNCLAW_DEADLETTER_TOKEN",
  deadletterMaxEntries: "KNCLAW_DEADLETTER_MAX_ENTRIES",
  deadletterMaxAgeMs: "KNCLAW_DEADLETTER_MAX_AGE_MS",
  skill: "KNCLAW_SKILL",
  agentKeys: "KNCLAW_AGENT_KEYS",
  skillGrants: "KNCLAW_SKILL_GRANTS",
} as const;

/** Secret holding agent signing keys by instance name, when an instance names none. */
export const DEFAULT_AGENT_KEYS_SECRET = "knclaw-agent-keys";
/** The deadletter API token when the config names none (rendered optional: no Secret, no API). */
export const DEFAULT_DEADLETTER_TOKEN = { secret: "knclaw-deadletter", key: "api-token" } as const;
/** Key of the memory token Secret holding the HMAC secret the memory service verifies tokens with. */
export const MEMORY_TOKEN_SECRET_KEY = "secret";

/** `signingSecret` -> `SIGNING_SECRET`. */
export function upperSnake(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}
