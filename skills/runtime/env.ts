import { z } from "zod";
import { eventSigningKeyVar } from "../../eventing/trust/env.ts";
import { defineEnv, envInteger, json, secret, text } from "../../runtime/env-contract.ts";
import { memoryClientVars, platformVars } from "../../runtime/platform-env.ts";

/**
 * A skill function's environment: what serveSkill reads (the agent keys it trusts), the variables only the renderer
 * sets for a built-in skill whose manifest asks for them (egress hosts, memory access), and the built-in skills' own
 * settings.
 */
export const skillEnv = defineEnv({
  ...platformVars,
  ...memoryClientVars,
  skill: text("KNCLAW_SKILL", "the skill's name", z.string().optional()),
  agentKeys: json(
    "KNCLAW_AGENT_KEYS",
    "agent public keys (PEM or base64) the skill trusts: instance name (or `*`) -> one key or a list (rotation)",
    z
      .record(z.string(), z.union([z.string(), z.array(z.string())], { error: "keys must be strings" }), {
        error: "must be a JSON object of instance -> key(s)",
      })
      .optional(),
  ),
  agentPublicKey: text(
    "KNCLAW_AGENT_PUBLIC_KEY",
    "one agent public key trusted for every instance (a single-agent setup)",
    z.string().optional(),
  ),
  eventKeys: secret(
    "KNCLAW_EVENT_KEYS",
    "the trust bundle (JSON `{role: key or [keys]}`): its `agent/<instance>` keys are trusted like those of KNCLAW_AGENT_KEYS, for the instance's capability tokens and its events alike",
    z.string().optional(),
  ),
  ...eventSigningKeyVar,
  grants: json(
    "KNCLAW_SKILL_GRANTS",
    "`skills.<name>.grants`: the namespaces (and cluster access) each instance is granted",
    z.record(z.string(), z.unknown()).optional(),
  ),
  allowedHosts: text(
    "KNCLAW_ALLOWED_HOSTS",
    "`host:port,...` the skill may reach (from `skills.<name>.egress`), for a skill whose manifest asks for configured hosts",
    z.string().optional(),
  ),
  kubernetesImpersonation: text(
    "K8S_IMPERSONATION",
    "whose identity the kubernetes skill takes: `instance` (the calling instance's ServiceAccount) or `none` (its own connection's user, for a developer's kubeconfig)",
    z.enum(["instance", "none"], { error: "must be instance or none" }).default("instance"),
  ),
  httpTimeoutMs: text(
    "HTTP_TIMEOUT_MS",
    "the http skill's request timeout, in ms",
    envInteger(1, 3_600_000).default(10_000),
  ),
  httpMaxResponseBytes: text(
    "HTTP_MAX_RESPONSE_BYTES",
    "the largest response body the http skill reads",
    envInteger(1, 1_073_741_824).default(1_048_576),
  ),
  httpMaxRedirects: text("HTTP_MAX_REDIRECTS", "redirects the http skill follows", envInteger(0, 100).default(5)),
  kubeconfig: secret(
    "KNCLAW_KUBECONFIG",
    "the kubernetes skill's inline kubeconfig YAML (`knclaw dev` against a real cluster, tests); unset: KUBECONFIG, else in-cluster",
    z.string().optional(),
  ),
});
