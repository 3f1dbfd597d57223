import type { MiddlewareHandler } from "hono";
import { describeScope, type MemoryScope, verifyMemoryToken } from "../../../clients/memory/tokens.ts";
import { type BearerEnv, bearer } from "../../../runtime/bearer.ts";
import { constantTimeEqual } from "../../../runtime/signatures.ts";
import { memoryError } from "./errors.ts";

/** Who is calling, from the bearer token; `label` is what provenance and audit entries record. */
export interface Principal {
  scope: MemoryScope;
  label: string;
}

export type MemoryEnv = BearerEnv<Principal>;

export type Permission =
  | "sessions"
  | "identities"
  | "pairing"
  | "notes"
  | "runs:read"
  | "runs:write"
  | "values"
  | "budgets"
  | "locks"
  | "audit:read"
  | "audit:write"
  | "deadletters"
  | "timers";

/** Component scopes and what they may do on any instance (tokens.ts explains who holds which). */
const GRANTS: Record<"channel" | "gateway" | "notes" | "deadletter", ReadonlySet<Permission>> = {
  channel: new Set(["identities", "pairing", "values"]),
  // pairing: operators approve pairing codes through the gateway API (`knclaw pairing approve`).
  gateway: new Set(["runs:read", "audit:read", "values", "pairing"]),
  notes: new Set(["notes"]),
  // The deadletter function: its queues and nothing else (no instance data, no runs).
  deadletter: new Set(["deadletters"]),
};

/**
 * How many distinct verified tokens one service remembers. A fleet holds a token per instance and per component, so
 * this covers the working set; beyond it the least recently used entry goes (and is verified again when it returns).
 */
const VERIFIED_TOKENS = 1024;

/**
 * Tokens already verified with this secret, by their exact string, most recently used last. Only tokens that passed
 * the full check (HMAC with a constant-time compare, or the operator token compare) get in: a forged or unknown
 * token always takes the full path, so the cache spares the HMAC of every request without changing who gets in.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, Principal>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(token: string): Principal | undefined {
    const principal = this.#entries.get(token);
    if (principal !== undefined && this.#entries.size > 1) {
      this.#entries.delete(token);
      this.#entries.set(token, principal);
    }
    return principal;
  }

  add(token: string, principal: Principal): void {
    if (this.#entries.size >= this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, principal);
  }
}

function principalOf(secret: string, operatorToken: string | undefined, token: string): Principal | undefined {
  let scope = verifyMemoryToken(secret, token);
  if (!scope && operatorToken !== undefined && constantTimeEqual(token, operatorToken)) scope = { kind: "operator" };
  if (!scope) return undefined;
  // Shared by every request that presents the token: frozen so no handler can change what the next one sees.
  return Object.freeze({ scope: Object.freeze(scope), label: describeScope(scope) });
}

/**
 * 401 unless the request carries a valid bearer token (the function runtime's bearer middleware, so never from
 * anywhere but the Authorization header); the caller's Principal goes on the context.
 */
export function authenticate(secret: string, operatorToken: string | undefined): MiddlewareHandler<MemoryEnv> {
  const verified = new VerifiedTokens(VERIFIED_TOKENS);
  const verify = (token: string): Principal | undefined => {
    let principal = verified.get(token);
    if (principal === undefined) {
      principal = principalOf(secret, operatorToken, token);
      if (principal !== undefined) verified.add(token, principal);
    }
    return principal;
  };
  return bearer({ verify, realm: "knclaw-memory" });
}

/**
 * May the caller do `permission` on `instance`'s data? `instance` is undefined for data outside any instance
 * (component namespaces). Instance tokens open their own instance only.
 */
export function isAllowed(principal: Principal, permission: Permission, instance: string | undefined): boolean {
  const { scope } = principal;
  switch (scope.kind) {
    case "operator":
      return true;
    case "instance":
      return instance !== undefined && scope.instance === instance;
    case "skill":
      // Its own namespace only (authorizeNamespace): no instance's data, no component's.
      return false;
    default:
      return GRANTS[scope.kind].has(permission);
  }
}

/** Component namespaces of this form belong to one skill each: its records of the mutating calls it ran. */
const SKILL_NAMESPACE_PREFIX = "skill-";

/**
 * May the caller use dedup and key/values in a component namespace? A skill's namespace `skill-<name>` (where
 * serveSkill records the mutating calls it ran) opens to that skill's token (a `skill` token, or a `notes` token named
 * after the skill) and the operator only: no other component can read or forge a skill's records. Any other namespace
 * opens to those with the `values` grant.
 */
export function authorizeNamespace(principal: Principal, namespace: string): void {
  const { scope } = principal;
  if (!namespace.startsWith(SKILL_NAMESPACE_PREFIX)) {
    authorize(principal, "values", undefined);
    return;
  }
  const skill = scope.kind === "skill" || scope.kind === "notes" ? scope.name : undefined;
  const own = skill !== undefined && namespace === `${SKILL_NAMESPACE_PREFIX}${skill}`;
  if (!own && scope.kind !== "operator") throw forbidden();
}

export function authorize(principal: Principal, permission: Permission, instance: string | undefined): void {
  if (!isAllowed(principal, permission, instance)) throw forbidden();
}

function forbidden() {
  return memoryError(403, "forbidden", "this token does not open that data");
}
