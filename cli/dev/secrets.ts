import { createPublicKey, randomBytes } from "node:crypto";
import { type MemoryScope, mintMemoryToken } from "../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { ProducerKeys, parseTrustBundle } from "../../eventing/trust/trusted-producers.ts";
import { platformSecretKind } from "../../knative/secrets/kinds.ts";
import { memoryScopeOfLabels } from "../../knative/secrets/memory-scope.ts";
import { containerEnv } from "../../knative/secrets/plan.ts";
import { heldSigningKeys, producerRoleOfLabels } from "../../knative/secrets/producer-roles.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { type GeneratedSecretStore, memorySecretStore } from "./secret-store.ts";

/**
 * Where a `secretKeyRef` gets its value under `knclaw dev` (knclaw never renders Secrets), first match wins:
 * 1. the process environment: `<SECRET>_<KEY>` upper-snaked (`knclaw-slack` / `signing-secret` ->
 *    `KNCLAW_SLACK_SIGNING_SECRET`), then the container variable's own name (`SLACK_SIGNING_SECRET`);
 * 2. a value generated for the Secrets the platform generates itself (knative/secrets/kinds.ts), kept in the
 *    session's store (`--state-dir`, so a restart keeps them; cli/dev/secret-store.ts): the memory service's token
 *    secret (random), the per-function memory tokens minted from it for the scope knative/secrets/memory-scope.ts
 *    gives each component, and an Ed25519 signing key per producer (each agent instance, the gateway, each channel
 *    adapter and skill, each external skill, the operator: knative/secrets/producer-roles.ts);
 * 3. the trust bundle, composed of the public keys of every signing key the objects reference, by the role each
 *    signs as, plus whatever bundle the environment gives (rule 1 adds to it here rather than replacing it, so your
 *    own producers can be trusted beside the platform's).
 * API tokens (gateway, deadletter) are not made up here: the `knclaw dev` command puts them in the environment and
 * tells the operator where they are. Nothing is ever logged or printed with its value.
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
  /** The private key (PEM) `role` signs with in `namespace`, when the objects have one for it (the operator's). */
  signingKeyOf(role: string, namespace: string): string | undefined;
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

interface SigningKeyRef {
  id: string;
  role: string;
  /** What the environment may name it by (the Secret key's, then the container variable's). */
  request: Pick<SecretRequest, "secret" | "key" | "envName">;
}

/**
 * `objects` are everything this session runs (ksvcs and Triggers): their signing keys make the trust bundle.
 * `store` keeps generated values (default: in memory, for tests).
 */
export function createSecretResolver(
  processEnv: Record<string, string | undefined>,
  objects: readonly KnativeObject[],
  store: GeneratedSecretStore = memorySecretStore(),
): SecretResolver {
  const fromEnv = (request: Pick<SecretRequest, "secret" | "key" | "envName">): string | undefined =>
    environmentValue(processEnv, request);
  const generated = (id: string, make: () => string): string => {
    let value = store.get(id);
    if (value === undefined) {
      value = make();
      store.set(id, value);
    }
    return value;
  };

  const memorySecret = (request: SecretRequest): string =>
    processEnv[upperSnake(`${request.secret}_secret`)] ??
    generated(`memory-token-secret:${request.namespace}/${request.secret}`, () =>
      randomBytes(32).toString("base64url"),
    );

  const signingKeys = producerSigningKeys(objects);
  const signingKey = (ref: Pick<SigningKeyRef, "id" | "request">): string =>
    fromEnv(ref.request) ?? generated(`signing-key:${ref.id}`, () => generateSigningKey().privateKeyPem);

  const trustBundle = (request: SecretRequest): string => {
    const bundle = new ProducerKeys();
    for (const ref of signingKeys) {
      if (!ref.id.startsWith(`${request.namespace}/`)) continue;
      bundle.add(
        ref.role,
        createPublicKey(parsePrivateKey(signingKey(ref), `${ref.request.secret}/${ref.request.key}`)),
      );
    }
    const given = fromEnv(request);
    if (given !== undefined) {
      const extra = parseTrustBundle(given, upperSnake(`${request.secret}_${request.key}`));
      for (const role of extra.roles()) for (const key of extra.keysOf(role)) bundle.add(role, key);
    }
    return bundle.toBundle();
  };

  return {
    signingKeyOf(role, namespace) {
      const ref = signingKeys.find((key) => key.role === role && key.id.startsWith(`${namespace}/`));
      return ref === undefined ? undefined : signingKey(ref);
    },
    resolve(request) {
      const kind = platformSecretKind(request.envName);
      const id = `${request.namespace}/${request.secret}/${request.key}`;
      switch (kind) {
        case "memory-token-secret":
          return memorySecret(request);
        case "memory-token": {
          const fromEnvironment = fromEnv(request);
          if (fromEnvironment !== undefined) return fromEnvironment;
          const scope = memoryScopeOf(request.service);
          return scope ? mintMemoryToken(memorySecret(request), scope) : undefined;
        }
        case "signing-key":
        case "event-signing-key":
          return signingKey({ id, request });
        case "event-trust-bundle":
          return trustBundle(request);
        default:
          return fromEnv(request);
      }
    },
  };
}

/** Every signing key the objects reference, with the role it signs as (the mapping `knclaw secrets generate` uses). */
function producerSigningKeys(objects: readonly KnativeObject[]): SigningKeyRef[] {
  const out = new Map<string, SigningKeyRef>();
  for (const service of objects) {
    if (service.kind !== "Service" || !service.apiVersion.startsWith("serving.knative.dev/")) continue;
    const role = producerRoleOfLabels(service.metadata.labels);
    if (role === undefined) continue;
    const namespace = service.metadata.namespace || "default";
    for (const entry of containerEnv(service)) {
      const kind = entry.ref === undefined ? undefined : platformSecretKind(entry.name);
      if (kind !== "signing-key" && kind !== "event-signing-key") continue;
      const id = `${namespace}/${entry.ref!.secret}/${entry.ref!.key}`;
      out.set(`${id} ${role}`, { id, role, request: { ...entry.ref!, envName: entry.name } });
    }
  }
  for (const held of heldSigningKeys(objects)) {
    const id = `${held.namespace}/${held.secret}/${held.key}`;
    // No container reads it, so only the Secret key's own name can give it.
    const request = { secret: held.secret, key: held.key, envName: "" };
    out.set(`${id} ${held.role}`, { id, role: held.role, request });
  }
  return [...out.values()];
}

/** The memory scope a rendered ksvc's token gets: the one mapping `knclaw secrets generate` also uses. */
export function memoryScopeOf(service: KnativeObject): MemoryScope | undefined {
  return memoryScopeOfLabels(service.metadata.labels);
}
