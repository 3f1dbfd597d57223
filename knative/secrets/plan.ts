/**
 * What Secrets a rendered platform reads, split into the values knclaw defines (and so can generate) and the ones
 * that come from outside. Read from the rendered ksvcs rather than the config, so that what is generated is exactly
 * what the manifests reference: every `secretKeyRef` of every container, classified by the variable it fills.
 */
import type { MemoryScope } from "../../clients/memory/tokens.ts";
import { agentRole } from "../../eventing/trust/roles.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { LABEL_INSTANCE } from "../../runtime/names.ts";
import type { RenderedObject } from "../render/types.ts";
import { type PlatformSecretKind, platformSecretKind } from "./kinds.ts";
import { memoryScopeOfLabels } from "./memory-scope.ts";
import { heldSigningKeys, producerRoleOfLabels } from "./producer-roles.ts";

export interface SecretKeyRef {
  namespace: string;
  secret: string;
  key: string;
  /** `<ksvc> (<VARIABLE>)` for every container variable filled from it. */
  consumers: string[];
}

export interface PlatformSecretRef extends SecretKeyRef {
  kind: PlatformSecretKind;
  /** memory-token: the scope its bearer gets. */
  scope?: MemoryScope;
  /** memory-token: the key (in the same namespace) holding the HMAC secret it is minted from. */
  mintedFrom?: { secret: string; key: string };
  /** signing-key: the agent instances signing with it. */
  instances?: string[];
  /** signing-key, event-signing-key: the producer roles it signs events as (the trust bundle trusts it for them). */
  roles?: string[];
}

export interface SecretPlan {
  platform: PlatformSecretRef[];
  /** Referenced values knclaw cannot make up: model API keys, channel credentials, the Redis URL, `secretEnv`. */
  external: SecretKeyRef[];
}

export class PlatformSecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformSecretsError";
  }
}

export function refId(ref: { namespace: string; secret: string; key: string }): string {
  return `${ref.namespace}/${ref.secret}/${ref.key}`;
}

/** One variable of a rendered container: a plain value or a Secret key reference. */
export interface ContainerEnvEntry {
  name: string;
  value?: string;
  ref?: { secret: string; key: string };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The variables of a rendered ksvc's containers (values and secretKeyRefs; other sources are left out). */
export function containerEnv(service: { readonly [field: string]: unknown }): ContainerEnvEntry[] {
  const podSpec = record(record(record(service.spec)?.template)?.spec);
  const containers = Array.isArray(podSpec?.containers) ? podSpec.containers : [];
  const out: ContainerEnvEntry[] = [];
  for (const container of containers) {
    const env = record(container)?.env;
    for (const item of Array.isArray(env) ? env : []) {
      const name = record(item)?.name;
      if (typeof name !== "string") continue;
      const value = record(item)?.value;
      const ref = record(record(record(item)?.valueFrom)?.secretKeyRef);
      if (typeof value === "string") out.push({ name, value });
      else if (ref && typeof ref.name === "string" && typeof ref.key === "string") {
        out.push({ name, ref: { secret: ref.name, key: ref.key } });
      }
    }
  }
  return out;
}

function isKnativeService(object: RenderedObject): boolean {
  return object.kind === "Service" && object.apiVersion.startsWith("serving.knative.dev/");
}

export function planSecrets(objects: readonly RenderedObject[]): SecretPlan {
  const platform = new Map<string, PlatformSecretRef>();
  const external = new Map<string, SecretKeyRef>();
  const tokenSecrets = new Map<string, { secret: string; key: string }[]>();
  for (const service of objects.filter(isKnativeService)) {
    const namespace = service.metadata.namespace ?? "default";
    const ksvc = service.metadata.name;
    for (const entry of containerEnv(service)) {
      if (entry.ref === undefined) continue;
      const base = { namespace, ...entry.ref };
      const id = refId(base);
      const consumer = `${ksvc} (${entry.name})`;
      const kind = platformSecretKind(entry.name);
      if (kind === undefined) {
        const known = external.get(id) ?? { ...base, consumers: [] };
        known.consumers.push(consumer);
        external.set(id, known);
        continue;
      }
      const ref: PlatformSecretRef = { ...base, kind, consumers: [consumer] };
      if (kind === "memory-token") {
        ref.scope = memoryScopeOfLabels(service.metadata.labels);
        if (ref.scope === undefined) throw new PlatformSecretsError(`${consumer}: no memory scope for this component`);
      }
      if (kind === "memory-token-secret") {
        const list = tokenSecrets.get(namespace) ?? [];
        list.push(entry.ref);
        tokenSecrets.set(namespace, list);
      }
      if (kind === "signing-key") {
        const instance = service.metadata.labels?.[LABEL_INSTANCE];
        if (instance === undefined) throw new PlatformSecretsError(`${consumer}: a signing key outside an agent`);
        ref.instances = [instance];
        ref.roles = [agentRole(instance)];
      }
      if (kind === "event-signing-key") {
        const role = producerRoleOfLabels(service.metadata.labels);
        if (role === undefined) throw new PlatformSecretsError(`${consumer}: no producer role for this component`);
        ref.roles = [role];
      }
      merge(platform, id, ref);
    }
  }
  for (const held of heldSigningKeys(objects)) {
    const { namespace, secret, key, role, holder } = held;
    const ref: PlatformSecretRef = {
      namespace,
      secret,
      key,
      kind: "event-signing-key",
      consumers: [holder],
      roles: [role],
    };
    merge(platform, refId(ref), ref);
  }
  for (const ref of platform.values()) {
    if (ref.kind !== "memory-token") continue;
    const secrets = tokenSecrets.get(ref.namespace) ?? [];
    const distinct = new Set(secrets.map((s) => `${s.secret}/${s.key}`));
    if (distinct.size !== 1) {
      throw new PlatformSecretsError(
        `${ref.consumers[0]}: ${distinct.size === 0 ? "no" : "more than one"} memory service in namespace ${ref.namespace} reads ${memoryEnv.names.tokenSecret}, so there is no one key to mint its token from`,
      );
    }
    ref.mintedFrom = secrets[0]!;
  }
  for (const id of platform.keys()) {
    const shared = external.get(id);
    if (shared !== undefined) {
      throw new PlatformSecretsError(
        `Secret ${shared.namespace}/${shared.secret} key ${shared.key} is both a knclaw-generated value and an outside credential (${shared.consumers.join(", ")}): give them different keys`,
      );
    }
  }
  const sorted = <T extends { namespace: string; secret: string; key: string }>(list: Iterable<T>) =>
    [...list].sort((a, b) => (refId(a) < refId(b) ? -1 : refId(a) > refId(b) ? 1 : 0));
  return { platform: sorted(platform.values()), external: sorted(external.values()) };
}

/** One Secret key read by several variables must be the same kind of value for all of them. */
function merge(platform: Map<string, PlatformSecretRef>, id: string, ref: PlatformSecretRef): void {
  const known = platform.get(id);
  if (known === undefined) {
    platform.set(id, ref);
    return;
  }
  const sameScope = JSON.stringify(known.scope) === JSON.stringify(ref.scope);
  // Two roles on one event key would let either producer sign as the other.
  const sameRole = ref.kind !== "event-signing-key" || JSON.stringify(known.roles) === JSON.stringify(ref.roles);
  if (known.kind !== ref.kind || !sameScope || !sameRole) {
    throw new PlatformSecretsError(
      `Secret ${ref.namespace}/${ref.secret} key ${ref.key} is read as two different values: ${known.consumers[0]} and ${ref.consumers[0]}`,
    );
  }
  known.consumers.push(...ref.consumers);
  if (ref.instances) known.instances = [...new Set([...(known.instances ?? []), ...ref.instances])].sort();
  if (ref.roles) known.roles = [...new Set([...(known.roles ?? []), ...ref.roles])].sort();
}
