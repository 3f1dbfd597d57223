import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeScope, type MemoryScope, mintMemoryToken, verifyMemoryToken } from "../../../clients/memory/tokens.ts";

const SECRET = "unit-test-secret-0123456789";

describe("memory tokens", () => {
  it("round-trips every scope", () => {
    const scopes: MemoryScope[] = [
      { kind: "instance", instance: "assistant" },
      { kind: "operator" },
      { kind: "operator", name: "console" },
      { kind: "channel", name: "slack" },
      { kind: "gateway" },
      { kind: "notes", name: "memory-skill" },
      { kind: "skill", name: "http" },
    ];
    for (const scope of scopes) {
      const token = mintMemoryToken(SECRET, scope);
      expect(token).toMatch(/^knm1\.[a-z]+\.[a-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      expect(verifyMemoryToken(SECRET, token)).toEqual(scope);
    }
    expect(mintMemoryToken(SECRET, { kind: "instance", instance: "a" })).toBe(
      mintMemoryToken(SECRET, { kind: "instance", instance: "a" }),
    );
  });

  it("refuses forged, altered and malformed tokens", () => {
    const token = mintMemoryToken(SECRET, { kind: "instance", instance: "assistant" });
    const [version, kind, subject, mac] = token.split(".") as [string, string, string, string];
    const flipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    for (const candidate of [
      mintMemoryToken("some-other-secret-value", { kind: "instance", instance: "assistant" }),
      [version, "operator", subject, mac].join("."),
      [version, kind, "assistanx", mac].join("."),
      [version, kind, subject, flipped].join("."),
      [version, kind, subject, mac.slice(1)].join("."),
      [version, kind, subject, mac, "extra"].join("."),
      ["knm2", kind, subject, mac].join("."),
      [version, "root", subject, mac].join("."),
      [version, kind, "_", mac].join("."),
      // A skill token without its skill, MAC'd correctly: still refused (it would name no namespace).
      `knm1.skill._.${createHmac("sha256", SECRET).update("knm1.skill._").digest("base64url")}`,
      "",
      "....",
      token.toUpperCase(),
    ]) {
      expect(verifyMemoryToken(SECRET, candidate)).toBeUndefined();
    }
  });

  it("never verifies arbitrary strings, and always verifies what it minted", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (candidate) => {
        expect(verifyMemoryToken(SECRET, candidate)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/), (instance) => {
        const scope: MemoryScope = { kind: "instance", instance };
        expect(verifyMemoryToken(SECRET, mintMemoryToken(SECRET, scope))).toEqual(scope);
      }),
    );
  });

  it("refuses to mint with a short secret or an invalid subject", () => {
    expect(() => mintMemoryToken("short", { kind: "operator" })).toThrow(/at least 16/);
    expect(() => mintMemoryToken(SECRET, { kind: "instance", instance: "Not.Valid" })).toThrow(/subject/);
    expect(() => mintMemoryToken(SECRET, { kind: "channel", name: "" })).toThrow(/subject/);
    // A skill token is always bound to one skill.
    expect(() => mintMemoryToken(SECRET, { kind: "skill", name: "" })).toThrow(/subject/);
    expect(() => mintMemoryToken(SECRET, { kind: "skill", name: "_" })).toThrow(/subject/);
  });

  it("labels scopes without the token", () => {
    expect(describeScope({ kind: "instance", instance: "a" })).toBe("instance:a");
    expect(describeScope({ kind: "channel", name: "slack" })).toBe("channel:slack");
    expect(describeScope({ kind: "gateway" })).toBe("gateway");
  });
});
