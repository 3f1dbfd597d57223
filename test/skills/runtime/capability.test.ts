import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateSigningKey, KeyFormatError, keyId, parsePrivateKey, parsePublicKey } from "../../../runtime/keys.ts";
import { argumentsDigest, canonicalJson } from "../../../skills/runtime/canonical-json.ts";
import { type CapabilityRequest, signCapability, verifyCapability } from "../../../skills/runtime/capability.ts";
import { staticTrustedKeys, trustedKeysFromEnv } from "../../../skills/runtime/trusted-keys.ts";

describe("canonical JSON and argument digests", () => {
  it("ignores member order at every depth", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: "s" } })).toBe(
      '{"a":{"c":"s","d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(argumentsDigest({ b: 1, a: 2 })).toBe(argumentsDigest({ a: 2, b: 1 }));
  });

  it("gives different digests for different arguments", () => {
    expect(argumentsDigest({ name: "web-1" })).not.toBe(argumentsDigest({ name: "web-2" }));
    expect(argumentsDigest({ n: 1 })).not.toBe(argumentsDigest({ n: "1" }));
    expect(argumentsDigest({})).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    expect(canonicalJson({ skip: undefined, keep: null })).toBe('{"keep":null}');
  });

  it("is stable under key shuffling (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(record));
        expect(JSON.parse(canonicalJson(record))).toEqual(JSON.parse(JSON.stringify(record)));
      }),
    );
  });
});

describe("Ed25519 key parsing", () => {
  it("reads PEM, base64 DER and raw 32-byte keys to the same key", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const der = privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
    const raw = privateKey.export({ format: "der", type: "pkcs8" }).subarray(16).toString("base64");
    expect(keyId(parsePrivateKey(pem))).toBe(keyId(publicKey));
    expect(keyId(parsePrivateKey(der))).toBe(keyId(publicKey));
    expect(keyId(parsePrivateKey(raw))).toBe(keyId(publicKey));
    const pubRaw = publicKey.export({ format: "der", type: "spki" }).subarray(12).toString("base64");
    expect(keyId(parsePublicKey(pubRaw))).toBe(keyId(publicKey));
  });

  it("refuses non-Ed25519 keys and garbage without echoing them", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" });
    expect(() => parsePrivateKey(rsa.toString())).toThrow(KeyFormatError);
    try {
      parsePrivateKey("not-a-key-secret-material!!");
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain("secret-material");
    }
  });
});

describe("capability tokens", () => {
  const keys = generateSigningKey();
  const signing = parsePrivateKey(keys.privateKeyPem);
  const trusted = staticTrustedKeys(new Map([["ops", [parsePublicKey(keys.publicKeyPem)]]]));
  const request: CapabilityRequest = {
    runId: "run-1",
    instance: "ops",
    skill: "kubernetes",
    tool: "get_pods",
    callId: "call-1",
    digest: argumentsDigest({ namespace: "default" }),
  };
  const now = 1_800_000_000_000;

  it("verifies a token for exactly the call it was signed for", () => {
    const token = signCapability(request, signing, { now, ttlSeconds: 60 });
    const verdict = verifyCapability(token, request, trusted, { now: now + 1000 });
    expect(verdict).toMatchObject({ ok: true, claims: { run: "run-1", tool: "get_pods", exp: now / 1000 + 60 } });
  });

  it.each([
    ["instance", { instance: "other" }],
    ["skill", { skill: "http" }],
    ["tool", { tool: "delete_pod" }],
    ["run", { runId: "run-2" }],
    ["call", { callId: "call-2" }],
    ["arguments digest", { digest: argumentsDigest({ namespace: "kube-system" }) }],
  ])("refuses a token used for another %s", (what, change) => {
    const token = signCapability(request, signing, { now });
    const expected = { ...request, ...change };
    const verdict = verifyCapability(
      token,
      expected,
      staticTrustedKeys(new Map([["*", [parsePublicKey(keys.publicKeyPem)]]])),
      {
        now,
      },
    );
    expect(verdict).toMatchObject({ ok: false, reason: "mismatch", detail: `token is for another ${what}` });
  });

  it("refuses an expired token as expired (so the agent can re-issue) but honours a small leeway", () => {
    const token = signCapability(request, signing, { now, ttlSeconds: 60 });
    expect(verifyCapability(token, request, trusted, { now: now + 63_000 }).ok).toBe(true);
    expect(verifyCapability(token, request, trusted, { now: now + 66_000 })).toMatchObject({
      ok: false,
      reason: "expired",
    });
  });

  it("refuses tokens signed by another key, even one trusted for another instance", () => {
    const intruder = generateSigningKey();
    const token = signCapability(request, parsePrivateKey(intruder.privateKeyPem), { now });
    expect(verifyCapability(token, request, trusted, { now })).toMatchObject({ ok: false, reason: "unknown_key" });
    const both = staticTrustedKeys(
      new Map([
        ["ops", [parsePublicKey(keys.publicKeyPem)]],
        ["dev", [parsePublicKey(intruder.publicKeyPem)]],
      ]),
    );
    expect(verifyCapability(token, request, both, { now })).toMatchObject({ ok: false });
  });

  it("refuses a token whose claims were edited after signing", () => {
    const token = signCapability(request, signing, { now });
    const [prefix, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    claims.exp += 3600;
    const forged = `${prefix}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    expect(verifyCapability(forged, request, trusted, { now })).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  it.each([
    ["empty", ""],
    ["wrong prefix", "kc2.e30.AAAA"],
    ["two parts", "kc1.e30"],
    ["non-base64url", "kc1.e30=.AAAA"],
    ["claims not JSON", `kc1.${Buffer.from("{").toString("base64url")}.AAAA`],
    ["claims wrong shape", `kc1.${Buffer.from('{"run":1}').toString("base64url")}.AAAA`],
    ["oversized", `kc1.${"A".repeat(5000)}.AAAA`],
  ])("refuses a malformed token (%s)", (_name, token) => {
    expect(verifyCapability(token, request, trusted, { now })).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("reads trusted keys from the environment, per instance and for all", () => {
    const other = generateSigningKey();
    const fromEnv = trustedKeysFromEnv({
      KNCLAW_AGENT_KEYS: JSON.stringify({ ops: [keys.publicKeyPem] }),
      KNCLAW_AGENT_PUBLIC_KEY: other.publicKeyPem,
    });
    expect(fromEnv.keysFor("ops")).toHaveLength(2);
    expect(fromEnv.keysFor("dev")).toHaveLength(1);
    expect(() => trustedKeysFromEnv({ KNCLAW_AGENT_KEYS: "[1]" })).toThrow(/JSON object/);
    expect(() => trustedKeysFromEnv({ KNCLAW_AGENT_KEYS: '{"ops": 3}' })).toThrow(/strings/);
  });
});
