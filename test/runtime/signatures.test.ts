import { generateKeyPairSync, sign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { withinReplayWindow } from "../../functions/channels/toolkit/replay-window.ts";
import {
  constantTimeEqual,
  ed25519PublicKeyFromHex,
  hmacSha256Hex,
  verifyEd25519Hex,
  verifyHmacSha256Hex,
} from "../../runtime/signatures.ts";

// Slack's published example (api.slack.com "Verifying requests from Slack").
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS = "1531420618";
const SLACK_BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

describe("constant-time comparison", () => {
  it("agrees with === for any pair of strings, whatever their lengths", () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
  });
  it("compares bytes, not code units", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });
});

describe("HMAC-SHA256 signatures", () => {
  it("reproduces Slack's published example vector", () => {
    expect(`v0=${hmacSha256Hex(SLACK_SECRET, "v0:", SLACK_TS, ":", SLACK_BODY)}`).toBe(SLACK_SIG);
    expect(verifyHmacSha256Hex(SLACK_SIG, "v0=", SLACK_SECRET, `v0:${SLACK_TS}:`, SLACK_BODY)).toBe(true);
  });
  it("refuses a changed body, timestamp, secret or prefix", () => {
    expect(verifyHmacSha256Hex(SLACK_SIG, "v0=", SLACK_SECRET, `v0:${SLACK_TS}:`, `${SLACK_BODY}x`)).toBe(false);
    expect(verifyHmacSha256Hex(SLACK_SIG, "v0=", SLACK_SECRET, "v0:1531420619:", SLACK_BODY)).toBe(false);
    expect(verifyHmacSha256Hex(SLACK_SIG, "v0=", `${SLACK_SECRET}x`, `v0:${SLACK_TS}:`, SLACK_BODY)).toBe(false);
    expect(
      verifyHmacSha256Hex(SLACK_SIG.replace("v0=", "v1="), "v0=", SLACK_SECRET, `v0:${SLACK_TS}:`, SLACK_BODY),
    ).toBe(false);
  });
  it("treats missing and malformed headers as invalid", () => {
    for (const header of [null, undefined, "", "v0=", "v0=zz", `v0=${"a".repeat(63)}`, `${SLACK_SIG}00`]) {
      expect(verifyHmacSha256Hex(header, "v0=", SLACK_SECRET, `v0:${SLACK_TS}:`, SLACK_BODY)).toBe(false);
    }
  });
  it("accepts uppercase hex (some senders) but only for the right digest", () => {
    expect(
      verifyHmacSha256Hex(
        SLACK_SIG.toUpperCase().replace("V0=", "v0="),
        "v0=",
        SLACK_SECRET,
        `v0:${SLACK_TS}:`,
        SLACK_BODY,
      ),
    ).toBe(true);
  });
});

describe("Ed25519 signatures", () => {
  // RFC 8032 section 7.1, TEST 2: a one-byte message.
  const RFC_PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
  const RFC_MESSAGE = Buffer.from("72", "hex");
  const RFC_SIGNATURE =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

  it("verifies the RFC 8032 test vector", () => {
    const key = ed25519PublicKeyFromHex(RFC_PUBLIC);
    expect(verifyEd25519Hex(key, RFC_SIGNATURE, RFC_MESSAGE)).toBe(true);
  });
  it("verifies over the concatenation of the parts", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12).toString("hex");
    const signature = sign(null, Buffer.from('1700000000{"type":1}'), privateKey).toString("hex");
    const key = ed25519PublicKeyFromHex(raw);
    expect(verifyEd25519Hex(key, signature, "1700000000", '{"type":1}')).toBe(true);
    expect(verifyEd25519Hex(key, signature, "1700000001", '{"type":1}')).toBe(false);
  });
  it("treats malformed signatures as invalid instead of throwing", () => {
    const key = ed25519PublicKeyFromHex(RFC_PUBLIC);
    for (const sig of [null, undefined, "", "zz", "00".repeat(63), "0".repeat(128), RFC_SIGNATURE.slice(2)]) {
      expect(verifyEd25519Hex(key, sig, RFC_MESSAGE)).toBe(false);
    }
  });
  it("refuses a public key that is not 32 hex bytes", () => {
    expect(() => ed25519PublicKeyFromHex("abc")).toThrow(/64 hex digits/);
  });
});

describe("replay window", () => {
  const now = 1_700_000_000_000;
  it("accepts timestamps within five minutes either way and refuses older or newer ones", () => {
    expect(withinReplayWindow("1700000000", now)).toBe(true);
    expect(withinReplayWindow("1699999700", now)).toBe(true);
    expect(withinReplayWindow("1699999699", now)).toBe(false);
    expect(withinReplayWindow("1700000301", now)).toBe(false);
  });
  it("refuses anything that is not plain decimal seconds", () => {
    for (const ts of [null, undefined, "", "1.7e9", "-1700000000", " 1700000000", "1700000000000000", "abc"]) {
      expect(withinReplayWindow(ts, now)).toBe(false);
    }
  });
});
