import { type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import { keyId } from "../../runtime/keys.ts";
import { DIGEST_PATTERN } from "./canonical-json.ts";

/**
 * Capability tokens (ARCHITECTURE.md, "Capability tokens"): an agent instance signs, with its Ed25519 key, exactly one
 * tool call: run, instance, skill, tool, call id, a digest of the exact arguments and an expiry. A skill holds only
 * public keys and acts only on a token that verifies and matches the call in front of it, so posting to the broker is
 * not enough to make a skill act.
 *
 * Format: `kc1.<base64url(claims JSON)>.<base64url(signature)>`; the signature covers the ASCII bytes of
 * `kc1.<base64url(claims JSON)>` (JWS-style, so the verifier checks exactly the bytes it then decodes).
 */
const PREFIX = "kc1";
const MAX_TOKEN_LENGTH = 4096;

const CapabilityClaims = z
  .object({
    run: z.string().min(1).max(256),
    inst: z.string().min(1).max(63),
    skill: z.string().min(1).max(63),
    tool: z.string().min(1).max(64),
    call: z.string().min(1).max(256),
    dig: z.string().regex(DIGEST_PATTERN),
    /** Seconds since the epoch. */
    iat: z.number().int().nonnegative(),
    exp: z.number().int().positive(),
    kid: z.string().max(64).optional(),
  })
  .strict();
export type CapabilityClaims = z.infer<typeof CapabilityClaims>;

export interface CapabilityRequest {
  runId: string;
  instance: string;
  skill: string;
  tool: string;
  callId: string;
  digest: string;
}

export function signCapability(
  request: CapabilityRequest,
  privateKey: KeyObject,
  options: { now?: number; ttlSeconds?: number } = {},
): string {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const claims: CapabilityClaims = {
    run: request.runId,
    inst: request.instance,
    skill: request.skill,
    tool: request.tool,
    call: request.callId,
    dig: request.digest,
    iat,
    exp: iat + (options.ttlSeconds ?? 600),
    kid: keyId(privateKey),
  };
  const signingInput = `${PREFIX}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature = sign(null, Buffer.from(signingInput, "ascii"), privateKey);
  return `${signingInput}.${signature.toString("base64url")}`;
}

export type CapabilityVerdict =
  | { ok: true; claims: CapabilityClaims }
  /** `expired` is told apart so the agent can re-sign and retry; every other failure is a refusal. */
  | { ok: false; reason: "malformed" | "unknown_key" | "bad_signature" | "expired" | "mismatch"; detail: string };

/** Public keys trusted per agent instance (`*` for any instance), as a skill is configured with them. */
export interface TrustedKeys {
  keysFor(instance: string): readonly KeyObject[];
}

const B64URL = /^[A-Za-z0-9_-]+$/;

export function verifyCapability(
  token: string,
  expected: CapabilityRequest,
  trusted: TrustedKeys,
  options: { now?: number; leewaySeconds?: number } = {},
): CapabilityVerdict {
  if (token.length > MAX_TOKEN_LENGTH) return refuse("malformed", "token too long");
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX || !B64URL.test(parts[1]!) || !B64URL.test(parts[2]!)) {
    return refuse("malformed", "not a kc1 token");
  }
  let claims: CapabilityClaims;
  try {
    const parsed = CapabilityClaims.safeParse(JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")));
    if (!parsed.success) return refuse("malformed", "claims do not match the schema");
    claims = parsed.data;
  } catch {
    return refuse("malformed", "claims are not JSON");
  }
  const keys = trusted.keysFor(claims.inst);
  const candidates = claims.kid === undefined ? keys : keys.filter((key) => keyId(key) === claims.kid);
  if (candidates.length === 0) return refuse("unknown_key", `no trusted key for instance ${claims.inst}`);
  const signingInput = Buffer.from(`${parts[0]}.${parts[1]}`, "ascii");
  const signature = Buffer.from(parts[2]!, "base64url");
  if (signature.length !== 64 || !candidates.some((key) => verify(null, signingInput, key, signature))) {
    return refuse("bad_signature", "signature does not verify");
  }
  // Binding checks come after the signature so nothing unsigned is ever reported back as a claim.
  const mismatched = mismatch(claims, expected);
  if (mismatched !== undefined) return refuse("mismatch", `token is for another ${mismatched}`);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const leeway = options.leewaySeconds ?? 5;
  if (claims.iat > now + 60) return refuse("malformed", "token issued in the future");
  if (now > claims.exp + leeway) return refuse("expired", "token expired");
  return { ok: true, claims };
}

function mismatch(claims: CapabilityClaims, expected: CapabilityRequest): string | undefined {
  if (claims.inst !== expected.instance) return "instance";
  if (claims.skill !== expected.skill) return "skill";
  if (claims.tool !== expected.tool) return "tool";
  if (claims.run !== expected.runId) return "run";
  if (claims.call !== expected.callId) return "call";
  if (claims.dig !== expected.digest) return "arguments digest";
  return undefined;
}

function refuse(reason: Exclude<CapabilityVerdict, { ok: true }>["reason"], detail: string): CapabilityVerdict {
  return { ok: false, reason, detail };
}
