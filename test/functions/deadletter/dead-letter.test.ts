import { describe, expect, it } from "vitest";
import { withErrorExtensions } from "../../../eventing/delivery/dead-letter.ts";
import { errorOf, errorText, replayEvent, storeRequest } from "../../../functions/deadletter/dead-letter.ts";

const RETENTION = { maxEntries: 10, maxAgeMs: 60_000 };
const original = {
  attributes: {
    specversion: "1.0",
    id: "e1",
    source: "/s",
    type: "t",
    knclawinstance: "a",
    datacontenttype: "text/plain",
  },
  data: new TextEncoder().encode("hello"),
};

describe("dead letters: from the delivered event and back", () => {
  it("reads the failure from Knative's extensions, as the broker writes them", () => {
    const body = new TextEncoder().encode("nope");
    const delivered = withErrorExtensions(original, { destination: "http://a.svc/", status: 422, body });
    expect(errorOf(delivered.attributes)).toEqual({
      destination: "http://a.svc/",
      code: 422,
      data: Buffer.from("nope").toString("base64"),
      text: "nope",
    });
    const noBody = withErrorExtensions(original, {
      destination: "http://a.svc/",
      status: undefined,
      body: new Uint8Array(),
    });
    expect(errorOf(noBody.attributes)).toEqual({ destination: "http://a.svc/", code: 500, data: null, text: null });
    expect(errorOf(original.attributes)).toEqual({ destination: null, code: null, data: null, text: null });
    for (const code of ["abc", "4000", "-1", "4.5", ""]) expect(errorOf({ knativeerrorcode: code }).code).toBeNull();
  });

  it("decodes error data as text only when it is UTF-8, dropping a character Knative's 1024-character cut split", () => {
    const long = `x${"é".repeat(600)}`;
    const delivered = withErrorExtensions(original, {
      destination: "d",
      status: 400,
      body: new TextEncoder().encode(long),
    });
    expect(delivered.attributes.knativeerrordata).toHaveLength(1024);
    expect(errorText(delivered.attributes.knativeerrordata!)).toBe(`x${"é".repeat(383)}`);
    expect(errorText(Buffer.from([0xff, 0xfe, 0x00]).toString("base64"))).toBeNull();
    expect(errorText("not base64!")).toBeNull();
    expect(errorText("")).toBe("");
  });

  it("stores attributes and data bytes exactly, empty data as empty", () => {
    const delivered = withErrorExtensions(original, { destination: "d", status: 400, body: new Uint8Array([1]) });
    const request = storeRequest(delivered, RETENTION);
    expect(request.attributes).toEqual(delivered.attributes);
    expect(request.dataBase64).toBe(Buffer.from("hello").toString("base64"));
    expect(request).toMatchObject(RETENTION);
    expect(storeRequest({ ...original, data: new Uint8Array(0) }, RETENTION).dataBase64).toBe("");
    expect("dataBase64" in storeRequest({ attributes: original.attributes }, RETENTION)).toBe(false);
    // A view into a larger buffer contributes only its own bytes.
    const backing = Uint8Array.from([9, 9, 1, 2, 3, 9]);
    const view = storeRequest({ ...original, data: backing.subarray(2, 5) }, RETENTION);
    expect(Buffer.from(view.dataBase64!, "base64")).toEqual(Buffer.from([1, 2, 3]));
  });

  it("replays the original: same attributes without knativeerror*, same data bytes", () => {
    const delivered = withErrorExtensions(original, { destination: "d", status: 400, body: new Uint8Array([1]) });
    const request = storeRequest(delivered, RETENTION);
    const replay = replayEvent({ attributes: request.attributes, dataBase64: request.dataBase64 ?? null });
    expect(replay.attributes).toEqual(original.attributes);
    expect(Buffer.from(replay.data!)).toEqual(Buffer.from(original.data));
    expect(replayEvent({ attributes: original.attributes, dataBase64: null }).data).toBeUndefined();
  });
});
