import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Bearer tokens of the memory service. Every token is derived from one secret (HMAC-SHA256 over its scope), so the
 * renderer and `knclaw dev` mint a token per component without a token table, and the service verifies one without a
 * lookup. Format: `knm1.<kind>.<subject>.<base64url mac>`; the subject is the instance for instance tokens, the skill
 * for skill tokens, and an optional component name (`_` when absent) for the others.
 *
 * Scopes, least privilege first:
 * - `skill`: dedup/key-values in that skill's own namespace `skill-<name>` and nothing else (serveSkill's records of
 *   the mutating calls it ran; a skill with mutating tools that keeps no notes);
 * - `instance`: all data of that one instance;
 * - `notes`: notes of any instance (the memory skill, which enforces the instance from its capability token), and,
 *   when named after a skill, dedup/key-values in its own namespace `skill-<name>` (serveSkill's call records);
 * - `channel`: dedup/key-values, identity links, pairing and allow-lists (channel adapters);
 * - `gateway`: runs (read, also by id across instances), audit (read), dedup/key-values, pairing (the HTTP gateway);
 * - `deadletter`: the dead-letter queues only (the deadletter function keeps, lists and replays failed deliveries);
 * - `operator`: everything, including admin reads across instances.
 */
export type MemoryScope =
  | { kind: "instance"; instance: string }
  | { kind: "skill"; name: string }
  | { kind: "operator"; name?: string }
  | { kind: "channel"; name?: string }
  | { kind: "gateway"; name?: string }
  | { kind: "notes"; name?: string }
  | { kind: "deadletter"; name?: string };

type MemoryScopeKind = MemoryScope["kind"];

const MEMORY_TOKEN_VERSION = "knm1";
const KINDS: readonly MemoryScopeKind[] = [
  "instance",
  "skill",
  "operator",
  "channel",
  "gateway",
  "notes",
  "deadletter",
];
/** Kinds whose subject is required: the token is bound to that one instance or skill. */
const NAMED_KINDS: readonly MemoryScopeKind[] = ["instance", "skill"];
const SUBJECT = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const NO_NAME = "_";
const MAC_LENGTH = 43; // base64url of 32 bytes, unpadded
/** Shortest secret accepted: a token secret is an HMAC key, not a password. */
export const MIN_SECRET_LENGTH = 16;

function subjectOf(scope: MemoryScope): string {
  return scope.kind === "instance" ? scope.instance : (scope.name ?? NO_NAME);
}

function mac(secret: string, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

export function mintMemoryToken(secret: string, scope: MemoryScope): string {
  if (secret.length < MIN_SECRET_LENGTH)
    throw new Error(`memory token secret must be at least ${MIN_SECRET_LENGTH} characters`);
  const subject = subjectOf(scope);
  if (!SUBJECT.test(subject) && !(!NAMED_KINDS.includes(scope.kind) && subject === NO_NAME)) {
    throw new Error(`invalid memory token subject for scope ${scope.kind}`);
  }
  const payload = `${MEMORY_TOKEN_VERSION}.${scope.kind}.${subject}`;
  return `${payload}.${mac(secret, payload)}`;
}

/** The scope a token grants, or undefined when it is malformed or not signed with this secret. */
export function verifyMemoryToken(secret: string, token: string): MemoryScope | undefined {
  const parts = token.split(".");
  if (parts.length !== 4) return undefined;
  const [version, kind, subject, given] = parts as [string, string, string, string];
  if (version !== MEMORY_TOKEN_VERSION || !KINDS.includes(kind as MemoryScopeKind)) return undefined;
  if (given.length !== MAC_LENGTH) return undefined;
  const named = NAMED_KINDS.includes(kind as MemoryScopeKind);
  if (!SUBJECT.test(subject) && (named || subject !== NO_NAME)) return undefined;
  const expected = Buffer.from(mac(secret, `${version}.${kind}.${subject}`));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
  if (kind === "instance") return { kind: "instance", instance: subject };
  if (kind === "skill") return { kind: "skill", name: subject };
  const scope = { kind } as Exclude<MemoryScope, { kind: "instance" | "skill" }>;
  return subject === NO_NAME ? scope : { ...scope, name: subject };
}

/** A short label for provenance and audit (`instance:assistant`, `channel:slack`, `gateway`). Never the token. */
export function describeScope(scope: MemoryScope): string {
  if (scope.kind === "instance") return `instance:${scope.instance}`;
  return scope.name ? `${scope.kind}:${scope.name}` : scope.kind;
}
