/**
 * Names the rendered objects and the functions agree on: labels, annotations and Secret keys (`knclaw dev` reads the
 * labels and annotations from the rendered objects). Environment variables are declared by each function's env
 * contract (runtime/env-contract.ts; the shared ones in runtime/platform-env.ts).
 */

export const LABEL_COMPONENT = "knclaw.dev/component";
export const LABEL_INSTANCE = "knclaw.dev/instance";
export const LABEL_CHANNEL = "knclaw.dev/channel";
export const LABEL_SKILL = "knclaw.dev/skill";
/** On a skill's ksvc with a memory token: the token's scope kind (`skill` or `notes`; knative/secrets/memory-scope.ts). */
export const LABEL_MEMORY_SCOPE = "knclaw.dev/memory-scope";
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
