import { describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { type CloudEvent, jsonBytes, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner, verifyEventSignature } from "../../../eventing/trust/event-signature.ts";
import { canonicalTime, EXT_SIGNATURE, signingInput } from "../../../eventing/trust/signing-input.ts";
import { ProducerKeys, parseTrustBundle, TrustBundleError } from "../../../eventing/trust/trusted-producers.ts";
import { generateSigningKey, keyId, parsePrivateKey, parsePublicKey } from "../../../runtime/keys.ts";

const pair = generateSigningKey();
const signer = eventSigner("agent/ops", parsePrivateKey(pair.privateKeyPem));
const trusted = new ProducerKeys();
trusted.add("agent/ops", parsePublicKey(pair.publicKeyPem));

const completedEvent = (): CloudEvent =>
  makeEvent(T.RUN_COMPLETED, {
    id: "done-1",
    source: "/knclaw/agents/ops",
    subject: "run-1",
    time: new Date("2026-03-01T10:00:00.120Z"),
    data: {
      runId: "run-1",
      instance: "ops",
      usage: { inputTokens: 1, outputTokens: 2 },
      costUsd: 0,
      durationMs: 5,
      turns: 1,
      toolCalls: 0,
      contractVersion: "v1",
      output: "done",
    },
    extensions: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  });

describe("event signatures", () => {
  it("signs as the role with a v1 signature naming the key, and verifies against the role's trusted key", () => {
    const signed = signer.sign(completedEvent());
    expect(signed.attributes.knclawproducer).toBe("agent/ops");
    expect(signed.attributes[EXT_SIGNATURE]).toMatch(
      new RegExp(`^v1\\.${keyId(parsePublicKey(pair.publicKeyPem))}\\.[A-Za-z0-9_-]{86}$`),
    );
    expect(verifyEventSignature(signed, trusted)).toEqual({ ok: true, role: "agent/ops" });
    // Deterministic: a re-sent outbox entry carries the same signature.
    expect(signer.sign(completedEvent()).attributes[EXT_SIGNATURE]).toBe(signed.attributes[EXT_SIGNATURE]);
  });

  it("survives both HTTP encodings and a Go SDK hop re-printing the time", () => {
    const signed = signer.sign(completedEvent());
    for (const mode of ["binary", "structured"] as const) {
      const { headers, body } = encodeEvent(signed, mode);
      const decoded = decodeMessageIfAny(new Headers(headers), body ?? new Uint8Array())!;
      expect(decoded.attributes.knclawproducer).toBe("agent/ops");
      expect(verifyEventSignature(decoded, trusted).ok).toBe(true);
    }
    // Knative's broker is Go: its SDK prints time in UTC with RFC3339Nano (trailing zeros dropped).
    expect(verifyEventSignature(withAttributes(signed, { time: "2026-03-01T10:00:00.12Z" }), trusted).ok).toBe(true);
    expect(verifyEventSignature(withAttributes(signed, { time: "2026-03-01T11:00:00.12+01:00" }), trusted).ok).toBe(
      true,
    );
    expect(verifyEventSignature(withAttributes(signed, { time: "2026-03-01T10:00:00.13Z" }), trusted).ok).toBe(false);
  });

  it("covers every identifying attribute, every knclaw extension and the exact data bytes", () => {
    const signed = withAttributes(signer.sign(completedEvent()), {});
    const changed: Record<string, string | undefined>[] = [
      { id: "done-2" },
      { source: "/elsewhere" },
      { type: T.RUN_FAILED },
      { subject: "run-2" },
      { subject: undefined },
      { time: "2026-03-01T10:00:01Z" },
      { datacontenttype: "text/plain" },
      { dataschema: "https://example.com/schema" },
      { specversion: "0.3" },
      { knclawrun: "run-2" },
      { knclawinstance: "dev" },
      { knclawchannel: "slack" },
      { knclawextra: "added after signing" },
    ];
    for (const change of changed) {
      expect(verifyEventSignature(withAttributes(signed, change), trusted), JSON.stringify(change)).toEqual({
        ok: false,
        problem: "bad_signature",
      });
    }
    const data = new TextDecoder().decode(signed.data);
    // The same JSON with one more space is other bytes: the data digest covers bytes, not meaning.
    const reformatted = { ...signed, data: new TextEncoder().encode(data.replace(":", ": ")) };
    expect(verifyEventSignature(reformatted, trusted).ok).toBe(false);
    const tampered = { ...signed, data: jsonBytes({ ...JSON.parse(data), output: "forged" }) };
    expect(verifyEventSignature(tampered, trusted).ok).toBe(false);
    const { data: _data, ...withoutData } = signed;
    expect(verifyEventSignature(withoutData, trusted).ok).toBe(false);
  });

  it("leaves out what hops may change: trace context, the broker's TTL, Knative's error extensions", () => {
    const signed = signer.sign(completedEvent());
    const hopped = withAttributes(signed, {
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "x=1",
      knativebrokerttl: "254",
      knativeerrorcode: "500",
    });
    expect(verifyEventSignature(hopped, trusted).ok).toBe(true);
  });

  it("tells unsigned, malformed, unknown-key and bad signatures apart", () => {
    const signed = signer.sign(completedEvent());
    expect(verifyEventSignature(completedEvent(), trusted)).toEqual({ ok: false, problem: "unsigned" });
    expect(verifyEventSignature(withAttributes(signed, { knclawproducer: undefined }), trusted)).toEqual({
      ok: false,
      problem: "unsigned",
    });
    for (const value of ["v2.0000000000000000.x", "v1.zz.abc", "v1", `${signed.attributes[EXT_SIGNATURE]}=`]) {
      expect(verifyEventSignature(withAttributes(signed, { [EXT_SIGNATURE]: value }), trusted)).toEqual({
        ok: false,
        problem: "malformed_signature",
      });
    }
    expect(verifyEventSignature(withAttributes(signed, { knclawproducer: "Agent/Ops" }), trusted)).toMatchObject({
      problem: "malformed_signature",
    });
    const stranger = eventSigner("agent/ops", parsePrivateKey(generateSigningKey().privateKeyPem));
    expect(verifyEventSignature(stranger.sign(completedEvent()), trusted)).toEqual({
      ok: false,
      problem: "unknown_key",
    });
    // The right key claimed for another role is no key of that role.
    expect(verifyEventSignature(withAttributes(signed, { knclawproducer: "gateway" }), trusted)).toMatchObject({
      problem: "unknown_key",
    });
  });

  it("trusts every key of a role during a rotation, each picked by its key id", () => {
    const next = generateSigningKey();
    const rotated = new ProducerKeys();
    rotated.add("agent/ops", parsePublicKey(next.publicKeyPem));
    rotated.add("agent/ops", parsePublicKey(pair.publicKeyPem));
    const newSigner = eventSigner("agent/ops", parsePrivateKey(next.privateKeyPem));
    expect(verifyEventSignature(newSigner.sign(completedEvent()), rotated).ok).toBe(true);
    expect(verifyEventSignature(signer.sign(completedEvent()), rotated).ok).toBe(true);
    const retired = new ProducerKeys();
    retired.add("agent/ops", parsePublicKey(next.publicKeyPem));
    expect(verifyEventSignature(signer.sign(completedEvent()), retired)).toEqual({ ok: false, problem: "unknown_key" });
  });

  it("refuses to sign as something that is not a role", () => {
    const key = parsePrivateKey(pair.privateKeyPem);
    for (const role of ["", "agent", "agent/", "agent/Ops", "admin", "skill/a/b", "channel/../x"]) {
      expect(() => eventSigner(role, key), role).toThrow(/not a producer role/);
    }
  });
});

describe("the signing input", () => {
  it("length-prefixes every field, so values cannot run into each other", () => {
    const a: CloudEvent = { attributes: { specversion: "1.0", id: "a", source: "/s", type: "t", knclawx: "1:2" } };
    const b: CloudEvent = {
      attributes: { specversion: "1.0", id: "a", source: "/s", type: "t", knclawx: "1", knclawx2: "2" },
    };
    expect(signingInput(a).equals(signingInput(b))).toBe(false);
    expect(signingInput(a).toString()).toContain("knclawx:3:1:2");
  });

  it("puts time in the form a Go SDK prints it", () => {
    expect(canonicalTime("2026-03-01T10:00:00.000Z")).toBe("2026-03-01T10:00:00Z");
    expect(canonicalTime("2026-03-01T10:00:00.120Z")).toBe("2026-03-01T10:00:00.12Z");
    expect(canonicalTime("2026-03-01t10:00:00.123456789z")).toBe("2026-03-01T10:00:00.123456789Z");
    expect(canonicalTime("2026-03-01T12:30:00+02:30")).toBe("2026-03-01T10:00:00Z");
    expect(canonicalTime("not a time")).toBe("not a time");
  });
});

describe("the trust bundle", () => {
  it("reads role -> key or keys in every key format, and writes what it reads", () => {
    const other = generateSigningKey();
    const der = parsePublicKey(other.publicKeyPem).export({ format: "der", type: "spki" }).toString("base64");
    const bundle = parseTrustBundle(
      JSON.stringify({ gateway: pair.publicKeyPem, "skill/time": [der, pair.publicKeyPem] }),
      "KNCLAW_EVENT_KEYS",
    );
    expect(bundle.roles()).toEqual(["gateway", "skill/time"]);
    expect(bundle.keysOf("skill/time")).toHaveLength(2);
    expect(parseTrustBundle(bundle.toBundle(), "again").toBundle()).toBe(bundle.toBundle());
  });

  it("names the variable and the role at fault, never a key", () => {
    const secretLooking = "MC4CAQAwBQYDK2VwBCIEIPRIVATEKEYMATERIAL0000000000000000000000";
    const cases: Array<[string, RegExp]> = [
      ["not json", /KNCLAW_EVENT_KEYS is not JSON/],
      ["[]", /JSON object of role/],
      [JSON.stringify({ admin: pair.publicKeyPem }), /"admin" is not a producer role/],
      [JSON.stringify({ gateway: 7 }), /the keys of gateway must be strings/],
      [JSON.stringify({ gateway: secretLooking }), /a key of gateway is not an Ed25519 key/],
    ];
    for (const [text, message] of cases) {
      let thrown: unknown;
      try {
        parseTrustBundle(text, "KNCLAW_EVENT_KEYS");
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain(secretLooking);
      expect(thrown instanceof TrustBundleError || (thrown as Error).name === "KeyFormatError").toBe(true);
    }
  });
});
