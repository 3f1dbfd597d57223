import { describe, expect, it } from "vitest";
import { DEFAULT_TTL, ingressTtl, withTtl } from "../../../eventing/broker/ttl.ts";
import { withErrorExtensions } from "../../../eventing/delivery/dead-letter.ts";

const base = { attributes: { specversion: "1.0", id: "1", source: "/s", type: "t" } };
const withTtlValue = (value: string) => ({ attributes: { ...base.attributes, knativebrokerttl: value } });

describe("broker TTL (what the broker's ingest runs)", () => {
  it("is 255 after ingress when absent", () => {
    expect(ingressTtl(base)).toBe(DEFAULT_TTL);
    expect(DEFAULT_TTL).toBe(255);
  });
  it("is decremented by one on each pass", () => {
    expect(ingressTtl(withTtlValue("10"))).toBe(9);
    expect(ingressTtl(withTtlValue(" 7 "))).toBe(6);
  });
  it("floors at 0, which the ingress refuses (an event arriving with 1, 0 or less)", () => {
    expect(ingressTtl(withTtlValue("1"))).toBe(0);
    expect(ingressTtl(withTtlValue("0"))).toBe(0);
    expect(ingressTtl(withTtlValue("-5"))).toBe(0);
  });
  it("defaults a TTL that is not an integer, as Knative's TTLDefaulter does", () => {
    expect(ingressTtl(withTtlValue("lots"))).toBe(255);
    expect(ingressTtl(withTtlValue("1.5"))).toBe(255);
  });
  it("is put back on a reply without touching the rest", () => {
    const reply = withTtl(base, 4);
    expect(reply.attributes).toEqual({ ...base.attributes, knativebrokerttl: "4" });
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
