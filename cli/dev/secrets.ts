import { randomBytes } from "node:crypto";
import { type MemoryScope, mintMemoryToken } from "../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { platformSecretKind } from "../../knative/secrets/kinds.ts";
import { memoryScopeOfLabels } from "../../knative/secrets/memory-scope.ts";
import { generateSigningKey } from "../../runtime/keys.ts";

/**
 * Where a `secretKeyRef` gets its value under `knclaw dev` (knclaw never renders Secrets), first match wins:
 * 1. the process environment: `<SECRET>_<KEY>` upper-snaked (`knclaw-slack` / `signing-secret` ->
 *    `KNCLAW_SLACK_SIGNING_SECRET`), then the container variable's own name (`SLACK_SIGNING_SECRET`);
 * 2. a value generated for this session, for the Secrets the platform generates itself (knative/secrets/kinds.ts):
 *    the memory service's token secret (random), the per-function memory tokens minted from it for the scope
 *    knative/secrets/memory-scope.ts gives each component, and an Ed25519 signing key per agent instance (its public
 *    key is then trusted by the skills, see service-envs). API tokens (gateway, deadletter) are not made up here:
 *    the `knclaw dev` command puts them in the environment and tells the operator where they are.
 * Nothing is ever logged or printed with its value.
 */
export interface SecretRequest {
  secret: string;
  key: string;
  namespace: string;
  /** The container variable the value is for. */
  envName: string;
  /** The ksvc asking, for scope-bound generated values. */
  service: KnativeObject;
}

export interface SecretResolver {
  resolve(request: SecretRequest): string | undefined;
  /** Public keys (PEM) of the agent signing keys generated this session, by instance (the Secret key). */
  generatedAgentKeys(): Record<string, string>;
}

export function upperSnake(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
}

/** Rule 1 above: the value the environment gives a Secret key, if any. */
export function environmentValue(
  env: Readonly<Record<string, string | undefined>>,
  request: Pick<SecretRequest, "secret" | "key" | "envName">,
): string | undefined {
  return env[upperSnake(`${request.secret}_${request.key}`)] ?? env[request.envName];
}

export function createSecretResolver(processEnv: Record<string, string | undefined>): SecretResolver {
  const generated = new Map<string, string>();
  const fromEnv = (request: SecretRequest): string | undefined => environmentValue(processEnv, request);

  const memorySecret = (request: SecretRequest): string => {
    const id = `${request.namespace}/${request.secret}`;
    let value = generated.get(id);
    if (value === undefined) {
      value = processEnv[upperSnake(`${request.secret}_secret`)] ?? randomBytes(32).toString("base64url");
      generated.set(id, value);
    }
    return value;
  };

  const agentKeys = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();
  const signingKey = (request: SecretRequest): string => {
    const id = `${request.namespace}/${request.secret}/${request.key}`;
    let pair = agentKeys.get(id);
    if (!pair) {
      pair = generateSigningKey();
      agentKeys.set(id, pair);
    }
    return pair.privateKeyPem;
  };

  return {
    generatedAgentKeys() {
      const out: Record<string, string> = {};
      for (const [id, pair] of agentKeys) out[id.slice(id.lastIndexOf("/") + 1)] = pair.publicKeyPem;
      return out;
    },
    resolve(request) {
      const kind = platformSecretKind(request.envName);
      if (kind === "memory-token-secret") return memorySecret(request);
      if (kind === "memory-token") {
        const fromEnvironment = fromEnv(request);
        if (fromEnvironment !== undefined) return fromEnvironment;
        const scope = memoryScopeOf(request.service);
        return scope ? mintMemoryToken(memorySecret(request), scope) : undefined;
      }
      const given = fromEnv(request);
      if (given !== undefined) return given;
      if (kind === "signing-key") return signingKey(request);
      return undefined;
    },
  };
}

/** The memory scope a rendered ksvc's token gets: the one mapping `knclaw secrets generate` also uses. */
export function memoryScopeOf(service: KnativeObject): MemoryScope | undefined {
  return memoryScopeOfLabels(service.metadata.labels);
}
