import { randomBytes } from "node:crypto";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { type MemoryScope, mintMemoryToken } from "../../eventing/memory/tokens.ts";
import { generateSigningKey } from "../../skills/runtime/keys.ts";

/**
 * Where a `secretKeyRef` gets its value under `knclaw dev` (knclaw never renders Secrets), first match wins:
 * 1. the process environment: `<SECRET>_<KEY>` upper-snaked (`knclaw-slack` / `signing-secret` ->
 *    `KNCLAW_SLACK_SIGNING_SECRET`), then the container variable's own name (`SLACK_SIGNING_SECRET`);
 * 2. a value generated for this session, for the Secrets the platform generates itself: the memory service's
 *    token secret (random), the per-function memory tokens minted from it with eventing/memory/tokens.ts, and an
 *    Ed25519 signing key per agent instance (its public key is then trusted by the skills, see start-dev).
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

const MEMORY_TOKEN_SECRET_ENV = "KNCLAW_MEMORY_TOKEN_SECRET";
const MEMORY_TOKEN_ENV = "KNCLAW_MEMORY_TOKEN";
const SIGNING_KEY_ENV = "KNCLAW_SIGNING_KEY";
const LABEL_COMPONENT = "knclaw.dev/component";
const LABEL_INSTANCE = "knclaw.dev/instance";
const LABEL_CHANNEL = "knclaw.dev/channel";
const LABEL_SKILL = "knclaw.dev/skill";

export function upperSnake(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
}

export function createSecretResolver(processEnv: Record<string, string | undefined>): SecretResolver {
  const generated = new Map<string, string>();
  const fromEnv = (request: SecretRequest): string | undefined =>
    processEnv[upperSnake(`${request.secret}_${request.key}`)] ?? processEnv[request.envName];

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
      if (request.envName === MEMORY_TOKEN_SECRET_ENV) return memorySecret(request);
      if (request.envName === MEMORY_TOKEN_ENV) {
        const fromEnvironment = fromEnv(request);
        if (fromEnvironment !== undefined) return fromEnvironment;
        const scope = memoryScopeOf(request.service);
        return scope ? mintMemoryToken(memorySecret(request), scope) : undefined;
      }
      const given = fromEnv(request);
      if (given !== undefined) return given;
      if (request.envName === SIGNING_KEY_ENV) return signingKey(request);
      return undefined;
    },
  };
}

/**
 * The memory scope a component gets, least privilege first: an agent its own instance, a channel adapter and the
 * gateway their component scopes, a skill the notes scope (the memory skill checks the instance itself), the
 * deadletter function the dead-letter queues only.
 */
export function memoryScopeOf(service: KnativeObject): MemoryScope | undefined {
  const labels = service.metadata.labels ?? {};
  switch (labels[LABEL_COMPONENT]) {
    case "agent":
      return labels[LABEL_INSTANCE] ? { kind: "instance", instance: labels[LABEL_INSTANCE] } : undefined;
    case "channel":
      return { kind: "channel", name: labels[LABEL_CHANNEL] };
    case "gateway":
      return { kind: "gateway" };
    case "skill":
      return { kind: "notes", name: labels[LABEL_SKILL] };
    case "deadletter":
      return { kind: "deadletter" };
    default:
      return undefined;
  }
}
