import { describe, expect, it } from "vitest";
import { applyIngressTtl, DEFAULT_TTL, withoutTtl, withTtl } from "../../../eventing/broker/ttl.ts";
import { withErrorExtensions } from "../../../eventing/delivery/dead-letter.ts";

const base = { attributes: { specversion: "1.0", id: "1", source: "/s", type: "t" } };
const withTtlValue = (value: string) => ({ attributes: { ...base.attributes, knativebrokerttl: value } });

describe("broker TTL", () => {
  it("sets 255 when absent", () => {
    expect(applyIngressTtl(base)).toMatchObject({ ok: true, ttl: DEFAULT_TTL });
    expect(DEFAULT_TTL).toBe(255);
  });
  it("decrements a present TTL by one", () => {
    const verdict = applyIngressTtl(withTtlValue("10"));
    expect(verdict).toMatchObject({ ok: true, ttl: 9 });
    expect(verdict.ok && verdict.event.attributes.knativebrokerttl).toBe("9");
  });
  it("refuses when the decremented TTL is 0 or less (floor 0)", () => {
    expect(applyIngressTtl(withTtlValue("1"))).toEqual({ ok: false, ttl: 0 });
    expect(applyIngressTtl(withTtlValue("0"))).toEqual({ ok: false, ttl: 0 });
    expect(applyIngressTtl(withTtlValue("-5"))).toEqual({ ok: false, ttl: 0 });
  });
  it("defaults a TTL that is not an integer, as Knative's TTLDefaulter does", () => {
    expect(applyIngressTtl(withTtlValue("lots"))).toMatchObject({ ok: true, ttl: 255 });
  });
  it("removes and restores the extension without touching the rest", () => {
    const stripped = withoutTtl(withTtlValue("4"));
    expect(stripped.attributes).toEqual(base.attributes);
    expect(withTtl(stripped, 4).attributes.knativebrokerttl).toBe("4");
  });
});

describe("dead-letter error extensions", () => {
  it("adds destination, status and the base64 body", () => {
    const event = withErrorExtensions(
      { ...base, data: new Uint8Array([1, 2]) },
      { destination: "http://sub/", status: 503, body: new TextEncoder().encode("busy") },
    );
    expect(event.attributes).toMatchObject({
      knativeerrordest: "http://sub/",
      knativeerrorcode: "503",
      knativeerrordata: Buffer.from("busy").toString("base64"),
    });
    expect([...event.data!]).toEqual([1, 2]);
  });
  it("cuts the base64 text to 1024 characters", () => {
    const body = new Uint8Array(5000).fill(65);
    const data = withErrorExtensions(base, { destination: "d", status: 500, body }).attributes.knativeerrordata!;
    expect(data).toHaveLength(1024);
    expect(data).toBe(Buffer.from(body).toString("base64").slice(0, 1024));
  });
  it("reports 500 when no response came back and omits empty data", () => {
    const event = withErrorExtensions(base, { destination: "d", status: undefined, body: new Uint8Array(0) });
    expect(event.attributes.knativeerrorcode).toBe("500");
    expect(event.attributes.knativeerrordata).toBeUndefined();
  });
});
