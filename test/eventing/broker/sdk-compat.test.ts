import { CloudEvent, emitterFor, HTTP, httpTransport, type Message, Mode } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import {
  brokerWithTrigger,
  receivedAttributes,
  type Subscriber,
  startSubscriber,
  startTestRuntime,
} from "../../support/dev-platform.ts";

/**
 * The official `cloudevents` SDK as a sender: what it emits (binary and structured) is accepted; what it would accept
 * as a receiver but Knative rejects is rejected by the embedded broker too.
 */
describe("cloudevents SDK compatibility", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;
  let ingress: string;

  beforeAll(async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(brokerWithTrigger(subscriber.url));
    ingress = `${runtime.url}/test/default`;
  });
  afterAll(async () => {
    await runtime.shutdown();
    await subscriber.close();
  });

  const post = (message: Message) =>
    fetch(ingress, {
      method: "POST",
      headers: message.headers as Record<string, string>,
      body: message.body as string,
    });

  it("accepts SDK events in binary mode (HTTP.binary) and delivers attributes and data unchanged", async () => {
    const event = new CloudEvent({
      id: "sdk-binary",
      source: "urn:sdk:test",
      type: "dev.knclaw.sdk",
      subject: "a subject with spaces",
      knclawinstance: "assistant",
      data: { hello: "wörld", n: [1, 2, 3] },
    });
    const response = await post(HTTP.binary(event));
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("sdk-binary");
    const attributes = receivedAttributes(got);
    expect(attributes.type).toBe("dev.knclaw.sdk");
    expect(attributes.subject).toBe("a subject with spaces");
    expect(attributes.knclawinstance).toBe("assistant");
    expect(attributes.time).toBe(event.time);
    expect(JSON.parse(got.body.toString("utf8"))).toEqual({ hello: "wörld", n: [1, 2, 3] });
    // The subscriber can read the delivery back with the SDK.
    const parsed = HTTP.toEvent({
      headers: got.headers as Record<string, string>,
      body: got.body.toString("utf8"),
    }) as CloudEvent;
    expect(parsed.id).toBe("sdk-binary");
    expect(parsed.data).toEqual({ hello: "wörld", n: [1, 2, 3] });
  });

  it("accepts SDK events in structured mode (HTTP.structured, charset parameter included)", async () => {
    const event = new CloudEvent({ id: "sdk-structured", source: "/sdk", type: "dev.knclaw.sdk", data: { ok: true } });
    const message = HTTP.structured(event);
    expect(String(message.headers["content-type"])).toContain("charset");
    const response = await post(message);
    expect(response.status).toBe(202);
    const got = await subscriber.waitForEvent("sdk-structured");
    expect(JSON.parse(got.body.toString("utf8"))).toEqual({ ok: true });
  });

  it("accepts events from the SDK's emitter over its own HTTP transport, both modes", async () => {
    for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
      const id = `sdk-emitter-${mode}`;
      const emit = emitterFor(httpTransport(ingress), { mode });
      await emit(new CloudEvent({ id, source: "/sdk/emitter", type: "dev.knclaw.sdk", data: { mode } }));
      const got = await subscriber.waitForEvent(id);
      expect(JSON.parse(got.body.toString("utf8"))).toEqual({ mode });
    }
  });

  it("accepts a 0.3 event from the SDK and keeps it 0.3", async () => {
    const event = new CloudEvent({ specversion: "0.3", id: "sdk-v03", source: "/sdk", type: "dev.knclaw.sdk" });
    expect((await post(HTTP.binary(event))).status).toBe(202);
    const got = await subscriber.waitForEvent("sdk-v03");
    expect(got.headers["ce-specversion"]).toBe("0.3");
  });

  /** Messages the SDK's receiver (HTTP.toEvent) takes but Knative's ingress refuses. */
  const lenient: Array<[string, Message]> = [
    ["specversion 1.1", { headers: binaryHeaders({ "ce-specversion": "1.1" }), body: "" }],
    ["time that is not RFC 3339", { headers: binaryHeaders({ "ce-time": "yesterday" }), body: "" }],
    ["empty subject", { headers: binaryHeaders({ "ce-subject": "" }), body: "" }],
    ["source that is not a URI-reference", { headers: binaryHeaders({ "ce-source": "not a uri" }), body: "" }],
    ["relative dataschema", { headers: binaryHeaders({ "ce-dataschema": "/schemas/x" }), body: "" }],
    ["attribute name with an underscore", { headers: binaryHeaders({ "ce-foo_bar": "x" }), body: "" }],
    ["invalid percent-encoding", { headers: binaryHeaders({ "ce-subject": "50%" }), body: "" }],
    ["structured without source", structured({ specversion: "1.0", id: "x", type: "t" })],
    [
      "an extension value with a control character",
      structured({ specversion: "1.0", id: "x", source: "/s", type: "t", myext: "line\nbreak" }),
    ],
    [
      "structured with an uppercase attribute",
      structured({ specversion: "1.0", id: "x", source: "/s", type: "t", Foo: "x" }),
    ],
    [
      "structured with data and data_base64",
      structured({ specversion: "1.0", id: "x", source: "/s", type: "t", data: { a: 1 }, data_base64: "AA==" }),
    ],
  ];

  for (const [name, message] of lenient) {
    it(`rejects what the SDK accepts but Knative does not: ${name}`, async () => {
      expect(() => HTTP.toEvent(message)).not.toThrow();
      const response = await post(message);
      expect(response.status).toBe(400);
      expect((await response.text()).length).toBeGreaterThan(0);
    });
  }
});

function binaryHeaders(overrides: Record<string, string>): Record<string, string> {
  return { "ce-specversion": "1.0", "ce-id": "lenient", "ce-source": "/s", "ce-type": "t", ...overrides };
}

function structured(event: Record<string, unknown>): Message {
  return { headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(event) };
}
