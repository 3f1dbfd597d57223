/**
 * The values of the Secrets knclaw defines, for a rendered platform: random HMAC key and API tokens, memory tokens
 * minted from that key for each client's scope, an Ed25519 key per agent instance and per other event producer, and
 * the trust bundle of their public keys. Values from an earlier run are reused (so re-running rotates nothing);
 * rotation is asked for by Secret (or Secret/key), and a rotated signing key's previous public key stays in the
 * bundle until the next rotation or an explicit retire. The result is Kubernetes Secret objects (Opaque,
 * stringData), each checked against the Kubernetes schema. Nothing here logs or throws a value: errors name the
 * Secret and key only.
 */
import { createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import { Secret } from "kubernetes-models/v1/Secret";
import { MIN_SECRET_LENGTH, mintMemoryToken } from "../../clients/memory/tokens.ts";
import { ProducerKeys, parseTrustBundle } from "../../eventing/trust/trusted-producers.ts";
import { generateSigningKey, parsePrivateKey, parsePublicKey } from "../../runtime/keys.ts";
import type { PlatformConfig } from "../config/schema.ts";
import type { RenderedObject } from "../render/types.ts";
import { type PlatformSecretRef, PlatformSecretsError, planSecrets, refId, type SecretKeyRef } from "./plan.ts";
import { inClusterRedisUrl, planInClusterRedis } from "./redis.ts";

/** The gateway refuses shorter tokens; the same floor for every API token. */
const MIN_API_TOKEN_LENGTH = 16;

export interface SecretManifest {
  apiVersion: "v1";
  kind: "Secret";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  type: "Opaque";
  stringData: Record<string, string>;
}

type ValueStatus =
  /** Not in the earlier set: generated now. */
  | "new"
  /** Reused from the earlier set (memory tokens: minted again, to the same value). */
  | "kept"
  /** Replaced because --rotate asked for it. */
  | "rotated"
  /** A memory token minted again because the key it derives from changed. */
  | "reminted";

interface GeneratedKey {
  ref: PlatformSecretRef;
  status: ValueStatus;
}

export interface GenerateOptions {
  /** Values of an earlier run by `namespace/secret/key` (see readSecretsDir). */
  previous?: ReadonlyMap<string, string>;
  /** `secret` or `secret/key`: generate these anew even when `previous` has them. */
  rotate?: readonly string[];
  /** `secret` or `secret/key` of signing keys: stop trusting the keys an earlier rotation replaced. */
  retire?: readonly string[];
}

export interface GeneratedSecrets {
  secrets: SecretManifest[];
  keys: GeneratedKey[];
  /** Public keys (SPKI PEM, not secret) of the agent signing keys, by instance: skills trust these. */
  agentPublicKeys: Record<string, string>;
  /** Signing keys whose previous key the trust bundle still trusts (a rotation's overlap), until retired. */
  overlaps: Array<{ ref: PlatformSecretRef; roles: string[] }>;
  /** What the manifests also need but knclaw cannot generate. */
  external: SecretKeyRef[];
}

const LABELS = { "app.kubernetes.io/part-of": "knclaw", "app.kubernetes.io/managed-by": "knclaw" };

const randomToken = () => randomBytes(32).toString("base64url");

export function generateSecrets(objects: readonly RenderedObject[], options: GenerateOptions = {}): GeneratedSecrets {
  const plan = planSecrets(objects);
  const redis = planInClusterRedis(objects, plan);
  const previous = options.previous ?? new Map<string, string>();
  const rotate = rotationSet(plan.platform, options.rotate ?? []);
  const retire = retirementSet(plan.platform, options.retire ?? []);
  const values = new Map<string, string>();
  const keys: GeneratedKey[] = [];

  // Independent values first: memory tokens are minted from the key values chosen here, bundles made of their keys.
  for (const ref of plan.platform) {
    if (ref.kind === "memory-token" || ref.kind === "redis-url" || ref.kind === "event-trust-bundle") continue;
    const id = refId(ref);
    const earlier = previous.get(id);
    if (earlier !== undefined && !rotate.has(id)) {
      checkReused(ref, earlier);
      values.set(id, earlier);
      keys.push({ ref, status: "kept" });
    } else {
      values.set(id, isSigningKey(ref) ? generateSigningKey().privateKeyPem : randomToken());
      keys.push({ ref, status: earlier === undefined ? "new" : "rotated" });
    }
  }
  if (redis !== undefined) {
    const id = refId(redis.url);
    const url = inClusterRedisUrl(values.get(refId(redis.password))!, redis.address);
    values.set(id, url);
    const earlier = previous.get(id);
    keys.push({ ref: redis.url, status: earlier === undefined ? "new" : earlier === url ? "kept" : "reminted" });
  }
  for (const ref of plan.platform) {
    if (ref.kind !== "memory-token") continue;
    const id = refId(ref);
    const secret = values.get(refId({ namespace: ref.namespace, ...ref.mintedFrom! }))!;
    const token = mintMemoryToken(secret, ref.scope!);
    values.set(id, token);
    const earlier = previous.get(id);
    keys.push({ ref, status: earlier === undefined ? "new" : earlier === token ? "kept" : "reminted" });
  }
  const overlaps: GeneratedSecrets["overlaps"] = [];
  for (const ref of plan.platform) {
    if (ref.kind !== "event-trust-bundle") continue;
    const id = refId(ref);
    const earlier = previous.get(id);
    const bundle = trustBundle(ref, plan.platform, { values, previous, rotate, retire, overlaps });
    values.set(id, bundle);
    keys.push({ ref, status: earlier === undefined ? "new" : earlier === bundle ? "kept" : "reminted" });
  }

  const bySecret = new Map<string, SecretManifest>();
  for (const ref of plan.platform) {
    const name = `${ref.namespace}/${ref.secret}`;
    let manifest = bySecret.get(name);
    if (manifest === undefined) {
      manifest = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: ref.secret, namespace: ref.namespace, labels: { ...LABELS } },
        type: "Opaque",
        stringData: {},
      };
      bySecret.set(name, manifest);
    }
    manifest.stringData[ref.key] = values.get(refId(ref))!;
  }
  const secrets = [...bySecret.values()];
  for (const manifest of secrets) checkSchema(manifest);

  const agentPublicKeys: Record<string, string> = {};
  for (const ref of plan.platform) {
    if (ref.kind !== "signing-key") continue;
    const pem = createPublicKey(parsePrivateKey(values.get(refId(ref))!))
      .export({ format: "pem", type: "spki" })
      .toString();
    for (const instance of ref.instances ?? []) agentPublicKeys[instance] = pem;
  }
  keys.sort((a, b) => (refId(a.ref) < refId(b.ref) ? -1 : 1));
  return { secrets, keys, agentPublicKeys, overlaps, external: plan.external };
}

function isSigningKey(ref: PlatformSecretRef): boolean {
  return ref.kind === "signing-key" || ref.kind === "event-signing-key";
}

const publicKeyOf = (privateKeyPem: string): KeyObject => createPublicKey(parsePrivateKey(privateKeyPem));

/**
 * A namespace's trust bundle: every signing key of the namespace for each role it signs as, newest first. A key
 * rotated now keeps the key it replaced beside it; a key kept keeps the overlap key the earlier bundle had for its
 * role (one at most), until the next rotation replaces it or --retire drops it.
 */
function trustBundle(
  bundleRef: PlatformSecretRef,
  platform: readonly PlatformSecretRef[],
  state: {
    values: ReadonlyMap<string, string>;
    previous: ReadonlyMap<string, string>;
    rotate: ReadonlySet<string>;
    retire: ReadonlySet<string>;
    overlaps: GeneratedSecrets["overlaps"];
  },
): string {
  const earlierText = state.previous.get(refId(bundleRef));
  let earlier: ProducerKeys | undefined;
  if (earlierText !== undefined) {
    try {
      earlier = parseTrustBundle(earlierText, `${bundleRef.secret}/${bundleRef.key}`);
    } catch {
      const where = `${bundleRef.secret}/${bundleRef.key}`;
      throw new PlatformSecretsError(`the earlier value of ${where} is not a trust bundle: fix it or delete it`);
    }
  }
  const bundle = new ProducerKeys();
  for (const ref of platform) {
    if (!isSigningKey(ref) || ref.namespace !== bundleRef.namespace) continue;
    const id = refId(ref);
    const current = publicKeyOf(state.values.get(id)!);
    const before = state.previous.get(id);
    const replaced = state.rotate.has(id) && before !== undefined ? replacedKey(before) : undefined;
    const overlapping: string[] = [];
    for (const role of ref.roles ?? []) {
      bundle.add(role, current);
      if (state.retire.has(id)) continue;
      const previousKey = replaced ?? earlier?.keysOf(role).find((key) => !key.equals(current));
      if (previousKey === undefined || previousKey.equals(current)) continue;
      bundle.add(role, previousKey);
      overlapping.push(role);
    }
    if (overlapping.length > 0) state.overlaps.push({ ref, roles: overlapping });
  }
  return bundle.toBundle();
}

/** The public key of the value a rotation replaces; a value that was no key leaves nothing to trust. */
function replacedKey(privateKeyPem: string): KeyObject | undefined {
  try {
    return publicKeyOf(privateKeyPem);
  } catch {
    return undefined;
  }
}

/** The ids --rotate names; a name that matches nothing is a typo, and a memory token alone cannot be rotated. */
function rotationSet(platform: readonly PlatformSecretRef[], targets: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const target of targets) {
    const [secret, key, extra] = target.split("/");
    const matches = platform.filter((ref) => ref.secret === secret && (key === undefined || ref.key === key));
    if (extra !== undefined || !secret || matches.length === 0) {
      const names = [...new Set(platform.map((ref) => ref.secret))].join(", ");
      throw new PlatformSecretsError(`--rotate ${target}: no such generated Secret (or key); they are: ${names}`);
    }
    if (key !== undefined && matches.every((ref) => ref.kind === "memory-token")) {
      const from = matches[0]!.mintedFrom!;
      throw new PlatformSecretsError(
        `--rotate ${target}: memory tokens derive from ${from.secret}/${from.key}; rotate that to replace them all`,
      );
    }
    if (matches.every((ref) => ref.kind === "event-trust-bundle")) {
      throw new PlatformSecretsError(
        `--rotate ${target}: the trust bundle derives from the signing keys; rotate those (it follows)`,
      );
    }
    for (const ref of matches) out.add(refId(ref));
  }
  return out;
}

/** The signing keys --retire names: their bundle entries drop the key an earlier rotation replaced. */
function retirementSet(platform: readonly PlatformSecretRef[], targets: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const target of targets) {
    const [secret, key, extra] = target.split("/");
    const matches = platform.filter(
      (ref) => isSigningKey(ref) && ref.secret === secret && (key === undefined || ref.key === key),
    );
    if (extra !== undefined || !secret || matches.length === 0) {
      const names = [...new Set(platform.filter(isSigningKey).map((ref) => `${ref.secret}/${ref.key}`))].join(", ");
      throw new PlatformSecretsError(`--retire ${target}: no such signing key; they are: ${names}`);
    }
    for (const ref of matches) out.add(refId(ref));
  }
  return out;
}

/** A reused value must still be usable: a hand-edited or truncated file is refused, by name only. */
function checkReused(ref: PlatformSecretRef, value: string): void {
  const where = `${ref.secret}/${ref.key}`;
  const refuse = (what: string) => {
    throw new PlatformSecretsError(`the earlier value of ${where} is ${what}: fix it or --rotate ${where}`);
  };
  switch (ref.kind) {
    case "memory-token-secret":
      if (value.length < MIN_SECRET_LENGTH) refuse(`shorter than ${MIN_SECRET_LENGTH} characters`);
      break;
    case "api-token":
      if (value.length < MIN_API_TOKEN_LENGTH || /\s/.test(value))
        refuse(`not a token (at least ${MIN_API_TOKEN_LENGTH} characters, no spaces)`);
      break;
    case "signing-key":
    case "event-signing-key":
      try {
        parsePrivateKey(value, where);
      } catch {
        refuse("not an Ed25519 private key");
      }
      break;
  }
}

/** Secret name (a DNS subdomain) and data keys as the API server checks them; the OpenAPI schema does not. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

function checkSchema(manifest: SecretManifest): void {
  for (const name of [manifest.metadata.name, manifest.metadata.namespace]) {
    if (!DNS_SUBDOMAIN.test(name)) throw new PlatformSecretsError(`${JSON.stringify(name)} is not a Kubernetes name`);
  }
  for (const key of Object.keys(manifest.stringData)) {
    if (!DATA_KEY.test(key) || key === "." || key === "..") {
      throw new PlatformSecretsError(
        `Secret ${manifest.metadata.name}: ${JSON.stringify(key)} is not a Secret data key`,
      );
    }
  }
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = manifest;
  try {
    new Secret(rest).validate();
  } catch (error) {
    // Validation errors quote paths and rules, not stringData values; keep only the message to be sure.
    const errors = (error as { errors?: Array<{ instancePath?: string; message?: string }> }).errors ?? [];
    const detail = errors.map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`).join("; ");
    throw new PlatformSecretsError(`Secret ${manifest.metadata.name} does not validate: ${detail || "invalid"}`);
  }
}

export type PublicKeyCheck = "matches" | "missing" | "differs" | "unknown-instance";

/** Whether knclaw.yaml already trusts each generated agent key (`instances.<name>.publicKey`). */
export function checkPublicKeys(
  config: PlatformConfig,
  agentPublicKeys: Readonly<Record<string, string>>,
): Record<string, PublicKeyCheck> {
  const out: Record<string, PublicKeyCheck> = {};
  for (const [instance, pem] of Object.entries(agentPublicKeys)) {
    const declared = config.instances[instance];
    if (declared === undefined) out[instance] = "unknown-instance";
    else if (declared.publicKey === undefined) out[instance] = "missing";
    else out[instance] = samePublicKey(declared.publicKey, pem) ? "matches" : "differs";
  }
  return out;
}

function samePublicKey(a: string, b: string): boolean {
  try {
    const der = (text: string) => parsePublicKey(text).export({ format: "der", type: "spki" });
    return der(a).equals(der(b));
  } catch {
    return false;
  }
}
