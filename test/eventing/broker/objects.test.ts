import { describe, expect, it } from "vitest";
import { effectiveDelivery, readDeliverySpec } from "../../../eventing/broker/delivery-spec.ts";
import { resolveDestination } from "../../../eventing/broker/destination.ts";
import { ObjectError } from "../../../eventing/broker/objects.ts";
import { bindTrigger, parseTrigger } from "../../../eventing/broker/trigger.ts";
import { BROKER_DEFAULT_DELIVERY } from "../../../eventing/delivery/delivery-policy.ts";
import { compilePingSource, makePingEvent } from "../../../eventing/ping/ping-source.ts";

const refuse = (fn: () => unknown, rule: string, path?: string) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ObjectError);
    expect((error as ObjectError).rule).toBe(rule);
    if (path !== undefined) expect((error as ObjectError).path).toBe(path);
    return;
  }
  throw new Error("accepted");
};

describe("Destinations", () => {
  it("resolves refs to the addresses they have on a cluster", () => {
    expect(
      resolveDestination(
        { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "agent" } },
        "knclaw",
        "o",
        "p",
      ),
    ).toBe("http://agent.knclaw.svc.cluster.local");
    expect(
      resolveDestination(
        { ref: { apiVersion: "v1", kind: "Service", name: "web", namespace: "other" } },
        "knclaw",
        "o",
        "p",
      ),
    ).toBe("http://web.other.svc.cluster.local");
    expect(
      resolveDestination(
        { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } },
        "ns",
        "o",
        "p",
      ),
    ).toBe("http://broker-ingress.knative-eventing.svc.cluster.local/ns/default");
  });
  it("takes an absolute uri, or a relative one against the ref", () => {
    expect(resolveDestination({ uri: "https://example.com/hook" }, "ns", "o", "p")).toBe("https://example.com/hook");
    expect(
      resolveDestination(
        { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "a" }, uri: "/events" },
        "ns",
        "o",
        "p",
      ),
    ).toBe("http://a.ns.svc.cluster.local/events");
  });
  it("refuses what cannot be resolved", () => {
    refuse(() => resolveDestination({}, "ns", "o", "spec.subscriber"), "destination", "spec.subscriber");
    refuse(() => resolveDestination({ uri: "/relative" }, "ns", "o", "p"), "destination-uri");
    refuse(() => resolveDestination({ uri: "ftp://x/y" }, "ns", "o", "p"), "destination-uri");
    refuse(
      () => resolveDestination({ ref: { apiVersion: "apps/v1", kind: "Deployment", name: "d" } }, "ns", "o", "p"),
      "destination-ref",
    );
    refuse(
      () =>
        resolveDestination(
          { ref: { apiVersion: "v1", kind: "Service", name: "a" }, uri: "http://abs/" },
          "ns",
          "o",
          "p",
        ),
      "destination-uri",
    );
  });
});

describe("DeliverySpec", () => {
  it("reads retry, backoff, ISO-8601 durations, format and the dead-letter sink", () => {
    expect(
      readDeliverySpec(
        {
          retry: 3,
          backoffPolicy: "linear",
          backoffDelay: "PT0.5S",
          timeout: "PT1M",
          format: "json",
          deadLetterSink: { uri: "http://dls" },
        },
        "ns",
        "o",
        "spec.delivery",
      ),
    ).toEqual({
      retry: 3,
      backoffPolicy: "linear",
      backoffDelayMs: 500,
      timeoutMs: 60_000,
      format: "structured",
      deadLetterSink: "http://dls/",
    });
  });
  it("drops backoff when the policy or the delay is missing (immediate retries)", () => {
    expect(readDeliverySpec({ retry: 2, backoffDelay: "PT1S" }, "ns", "o", "d")).toEqual({
      retry: 2,
      format: "binary",
    });
    expect(readDeliverySpec({ retry: 2, backoffPolicy: "exponential" }, "ns", "o", "d")).toEqual({
      retry: 2,
      format: "binary",
    });
  });
  it("refuses invalid fields", () => {
    refuse(() => readDeliverySpec({ retry: -1 }, "ns", "o", "d"), "delivery-retry", "d.retry");
    refuse(() => readDeliverySpec({ retry: 1.5 }, "ns", "o", "d"), "delivery-retry");
    refuse(() => readDeliverySpec({ backoffPolicy: "fibonacci" }, "ns", "o", "d"), "delivery-backoff-policy");
    refuse(() => readDeliverySpec({ backoffDelay: "2s" }, "ns", "o", "d"), "delivery-duration", "d.backoffDelay");
    refuse(() => readDeliverySpec({ timeout: "PT0S" }, "ns", "o", "d"), "delivery-duration", "d.timeout");
    refuse(() => readDeliverySpec({ format: "xml" }, "ns", "o", "d"), "delivery-format");
    refuse(() => readDeliverySpec({ retries: 3 }, "ns", "o", "d"), "delivery-field");
  });
  it("a Trigger's delivery replaces the Broker's wholesale; nothing set -> retry 10, exponential, PT0.2S", () => {
    const broker = { retry: 4, format: "binary" as const, deadLetterSink: "http://broker-dls" };
    const trigger = { retry: 1, format: "binary" as const };
    expect(effectiveDelivery(trigger, broker)).toBe(trigger);
    expect(effectiveDelivery(undefined, broker)).toBe(broker);
    expect(effectiveDelivery(undefined, undefined)).toEqual({
      retry: 10,
      backoffPolicy: "exponential",
      backoffDelayMs: 200,
      format: "binary",
    });
    expect(BROKER_DEFAULT_DELIVERY.retry).toBe(10);
  });
});

describe("Trigger", () => {
  const trigger = (spec: unknown) => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "t", namespace: "ns" },
    spec,
  });
  it("compiles filter, subscriber and delivery", () => {
    const parsed = parseTrigger(
      trigger({ broker: "default", filter: { attributes: { type: "x" } }, subscriber: { uri: "http://s/" } }),
    );
    const bound = bindTrigger(parsed, { retry: 2, format: "binary" });
    expect(bound).toMatchObject({
      namespace: "ns",
      name: "t",
      broker: "default",
      subscriber: "http://s/",
      delivery: { retry: 2 },
    });
    expect(bound.filter({ type: "x" })).toBe(true);
    expect(bound.filter({ type: "y" })).toBe(false);
    expect(bound.brokerNamespace).toBe("ns");
  });
  it("reads spec.brokerRef: its name, and its namespace (the Trigger's when it names none)", () => {
    const ref = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "target" };
    const subscriber = { uri: "http://s/" };
    expect(parseTrigger(trigger({ brokerRef: ref, subscriber }))).toMatchObject({
      broker: "target",
      brokerNamespace: "ns",
    });
    expect(parseTrigger(trigger({ brokerRef: { ...ref, namespace: "other" }, subscriber }))).toMatchObject({
      namespace: "ns",
      broker: "target",
      brokerNamespace: "other",
    });
  });
  it("refuses a Trigger without broker or subscriber, or with a bad filter, naming the field", () => {
    refuse(() => parseTrigger(trigger({ subscriber: { uri: "http://s" } })), "required", "spec.broker");
    refuse(() => parseTrigger(trigger({ broker: "b" })), "required", "spec.subscriber");
    refuse(
      () =>
        parseTrigger(
          trigger({ broker: "b", subscriber: { uri: "http://s" }, filters: [{ exact: { a: "1" }, not: {} }] }),
        ),
      "filter-one-dialect",
      "spec.filters[0]",
    );
    refuse(
      () => parseTrigger(trigger({ broker: "b", subscriber: { uri: "http://s" }, filtre: {} })),
      "unknown-field",
      "spec.filtre",
    );
  });
});

describe("PingSource", () => {
  const ping = (spec: unknown) => ({
    apiVersion: "sources.knative.dev/v1",
    kind: "PingSource",
    metadata: { name: "p", namespace: "ns" },
    spec,
  });
  const sink = { uri: "http://sink/" };
  it("defaults the schedule to every minute", () => {
    expect(compilePingSource(ping({ sink })).schedule.pattern).toBe("0 * * * * *");
  });
  it("accepts seconds fields, descriptors and time zones", () => {
    expect(compilePingSource(ping({ sink, schedule: "*/10 * * * * *" })).schedule.pattern).toBe("*/10 * * * * *");
    expect(compilePingSource(ping({ sink, schedule: "@hourly" })).schedule.pattern).toBe("0 0 * * * *");
    expect(compilePingSource(ping({ sink, schedule: "0 9 * * 1-5", timezone: "Europe/Paris" })).schedule.timezone).toBe(
      "Europe/Paris",
    );
  });
  it("builds each tick's event the way the mtping adapter does", () => {
    const source = compilePingSource(
      ping({ sink, contentType: "text/plain", data: "hi", ceOverrides: { extensions: { knclawinstance: "a" } } }),
    );
    const event = makePingEvent(source, new Date("2031-01-02T03:04:05Z"));
    expect(event.attributes).toMatchObject({
      specversion: "1.0",
      type: "dev.knative.sources.ping",
      source: "/apis/v1/namespaces/ns/pingsources/p",
      time: "2031-01-02T03:04:05.000Z",
      datacontenttype: "text/plain",
      knclawinstance: "a",
    });
    expect(new TextDecoder().decode(event.data)).toBe("hi");
    expect(makePingEvent(source, new Date()).attributes.id).not.toBe(event.attributes.id);
  });
  it("refuses what Knative's webhook refuses", () => {
    refuse(() => compilePingSource(ping({ sink, schedule: "@every 5m" })), "cron-every", "spec.schedule");
    refuse(() => compilePingSource(ping({ sink, schedule: "* * *" })), "cron-syntax");
    refuse(() => compilePingSource(ping({ sink, timezone: "Nowhere/City" })), "timezone", "spec.timezone");
    refuse(() => compilePingSource(ping({ sink, data: "a", dataBase64: "YQ==" })), "ping-data-one-of");
    refuse(() => compilePingSource(ping({ sink, dataBase64: "not base64!" })), "ping-data-base64");
    refuse(() => compilePingSource(ping({ sink, contentType: "application/json", data: "[1]" })), "ping-data-json");
    refuse(
      () =>
        compilePingSource(
          ping({ sink, contentType: "application/json", dataBase64: Buffer.from("42").toString("base64") }),
        ),
      "ping-data-json",
    );
    refuse(() => compilePingSource(ping({ sink, ceOverrides: { extensions: { "Bad-Name": "x" } } })), "extension-name");
    // Knative's SDK refuses to overwrite a spec attribute with an extension (sdk-go EventContextV1.SetExtension).
    for (const attribute of ["type", "id", "source", "specversion", "Time"]) {
      refuse(
        () => compilePingSource(ping({ sink, ceOverrides: { extensions: { [attribute]: "x" } } })),
        "ce-overrides-spec-attribute",
        `spec.ceOverrides.extensions.${attribute}`,
      );
    }
    refuse(() => compilePingSource(ping({})), "destination", "spec.sink");
  });

  it("sends ceOverrides as extensions, lowercased as the CloudEvents SDK sets them", () => {
    const source = compilePingSource(ping({ sink, ceOverrides: { extensions: { Team: "a", knclawinstance: "ops" } } }));
    const event = makePingEvent(source, new Date("2026-01-01T00:00:00Z"));
    expect(event.attributes).toMatchObject({ team: "a", knclawinstance: "ops", type: "dev.knative.sources.ping" });
    expect(event.attributes.Team).toBeUndefined();
  });
});
