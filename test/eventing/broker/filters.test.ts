import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRuntime, InvalidObjectsError } from "../../../cli/dev/start-dev.ts";
import {
  postBinary,
  postStructured,
  type Subscriber,
  startSubscriber,
  startTestRuntime,
} from "../../support/dev-platform.ts";

/** docs/knative-semantics.md, "Triggers": filter.attributes and every Subscriptions API dialect, over HTTP. */
const TRIGGERS: Record<string, string> = {
  "attr-type": `filter: { attributes: { type: order.created } }`,
  "attr-presence": `filter: { attributes: { knclawinstance: "" } }`,
  "attr-and": `filter: { attributes: { type: order.created, source: /shop } }`,
  "exact-subject": `filters: [ { exact: { subject: Abc } } ]`,
  "exact-empty": `filters: [ { exact: { subject: "" } } ]`,
  prefix: `filters: [ { prefix: { type: "order." } } ]`,
  suffix: `filters: [ { suffix: { source: ".com" } } ]`,
  all: `filters: [ { all: [ { prefix: { type: "order." } }, { suffix: { type: ".created" } } ] } ]`,
  any: `filters: [ { any: [ { exact: { type: a } }, { exact: { type: b } } ] } ]`,
  not: `filters: [ { not: { exact: { type: order.created } } } ]`,
  cesql: `filters: [ { cesql: "type LIKE 'order.%' AND INT(amount) > 10" } ]`,
  "cesql-error": `filters: [ { cesql: "INT(subject) < 100" } ]`,
  "filters-replace-filter": `filter: { attributes: { type: never } }\n  filters: [ { exact: { type: order.created } } ]`,
  "items-anded": `filters: [ { prefix: { type: "order." } }, { exact: { source: /shop } } ]`,
  "no-filter": "",
  "dup-a": `filter: { attributes: { type: order.created } }`,
  "dup-b": `filter: { attributes: { type: order.created } }`,
};

function yamlFor(subscriber: string): string {
  const triggers = Object.entries(TRIGGERS).map(([name, filter]) => {
    // dup-a and dup-b share one subscriber URL on purpose.
    const uri = name.startsWith("dup-") ? `${subscriber}/dup` : `${subscriber}/${name}`;
    return `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name}, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${uri}" }
  ${filter}`;
  });
  return [
    "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: default, namespace: test }",
    "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: strict, namespace: test }",
    `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: only-x, namespace: test }\nspec:\n  broker: strict\n  filter: { attributes: { type: x } }\n  subscriber: { uri: "${subscriber}/strict" }`,
    ...triggers,
  ].join("\n---\n");
}

interface Sent {
  id: string;
  attributes: Record<string, string>;
  expected: string[];
}

const EVENTS: Sent[] = [
  {
    id: "e1",
    attributes: { type: "order.created", source: "/shop", subject: "Abc", knclawinstance: "x", amount: "42" },
    expected: [
      "attr-type",
      "attr-presence",
      "attr-and",
      "exact-subject",
      "exact-empty",
      "prefix",
      "all",
      "cesql",
      "filters-replace-filter",
      "items-anded",
      "no-filter",
      "dup",
      "dup",
    ],
  },
  {
    id: "e2",
    attributes: { type: "order.deleted", source: "https://a.com", subject: "abc" },
    expected: ["exact-empty", "prefix", "suffix", "not", "no-filter"],
  },
  { id: "e3", attributes: { type: "a", source: "/s" }, expected: ["exact-empty", "any", "not", "no-filter"] },
  { id: "e4", attributes: { type: "ORDER.CREATED", source: "/shop" }, expected: ["exact-empty", "not", "no-filter"] },
  {
    id: "e5",
    attributes: { type: "order.created", source: "/other", subject: "5", knclawinstance: "" },
    expected: [
      "attr-type",
      "exact-empty",
      "prefix",
      "all",
      "cesql-error",
      "filters-replace-filter",
      "no-filter",
      "dup",
      "dup",
    ],
  },
];

describe("trigger filters", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;

  beforeAll(async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(yamlFor(subscriber.url));
    for (const event of EVENTS) {
      const { type, source, ...extra } = event.attributes;
      const response = await postBinary(`${runtime.url}/test/default`, { id: event.id, type, source, extra });
      expect(response.status).toBe(202);
    }
    await runtime.idle();
  });
  afterAll(async () => {
    await runtime.shutdown();
    await subscriber.close();
  });

  const deliveredTo = (id: string) =>
    subscriber.received
      .filter((r) => r.headers["ce-id"] === id)
      .map((r) => r.path.slice(1))
      .sort();

  for (const event of EVENTS) {
    it(`routes ${event.id} (${JSON.stringify(event.attributes)}) to exactly the matching Triggers`, () => {
      expect(deliveredTo(event.id)).toEqual([...event.expected].sort());
    });
  }

  it("filter.attributes: exact, case-sensitive equality on every key (AND)", () => {
    expect(deliveredTo("e1")).toContain("attr-and");
    expect(deliveredTo("e5")).not.toContain("attr-and");
    expect(deliveredTo("e4")).not.toContain("attr-type");
  });

  it("filter.attributes: an empty value means present with any non-empty value", () => {
    expect(deliveredTo("e1")).toContain("attr-presence");
    expect(deliveredTo("e5")).not.toContain("attr-presence");
    expect(deliveredTo("e2")).not.toContain("attr-presence");
  });

  it("exact/prefix/suffix: an attribute absent from the event fails, an empty expected value is skipped", () => {
    expect(deliveredTo("e3")).not.toContain("exact-subject");
    for (const event of EVENTS) expect(deliveredTo(event.id)).toContain("exact-empty");
  });

  it("cesql: an evaluation error counts as no match", () => {
    expect(deliveredTo("e1")).not.toContain("cesql-error");
    expect(deliveredTo("e5")).toContain("cesql-error");
    expect(deliveredTo("e2")).not.toContain("cesql");
  });

  it("spec.filters, when non-empty, replaces spec.filter entirely", () => {
    expect(deliveredTo("e1")).toContain("filters-replace-filter");
  });

  it("every matching Trigger gets its own delivery, even with the same subscriber", () => {
    expect(deliveredTo("e1").filter((path) => path === "dup")).toHaveLength(2);
  });

  it("no match: the event is dropped silently while ingress still answers 202", async () => {
    const before = runtime.brokers.find((b) => b.name === "strict")!.broker.counters.unmatched;
    const response = await postBinary(`${runtime.url}/test/strict`, { id: "unmatched", type: "y" });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
    const matched = await postBinary(`${runtime.url}/test/strict`, { id: "matched", type: "x" });
    expect(matched.status).toBe(202);
    await subscriber.waitForEvent("matched");
    await runtime.idle();
    expect(subscriber.received.filter((r) => r.path === "/strict").map((r) => r.headers["ce-id"])).toEqual(["matched"]);
    expect(runtime.brokers.find((b) => b.name === "strict")!.broker.counters.unmatched).toBe(before + 1);
  });

  it("event data is never modified (binary bytes, JSON formatting, structured data)", async () => {
    const odd = '{ "b" :1,"a":  [1,2.50, "\\u00e9"] }';
    await postBinary(`${runtime.url}/test/strict`, { id: "data-json", type: "x", body: odd });
    const bytes = Uint8Array.from([0, 255, 254, 10, 13, 0x80, 0x7f]);
    await postBinary(`${runtime.url}/test/strict`, {
      id: "data-bytes",
      type: "x",
      body: bytes,
      contentType: "application/octet-stream",
    });
    await postStructured(`${runtime.url}/test/strict`, {
      specversion: "1.0",
      id: "data-b64",
      source: "/s",
      type: "x",
      datacontenttype: "application/octet-stream",
      data_base64: Buffer.from(bytes).toString("base64"),
    });
    expect((await subscriber.waitForEvent("data-json")).body.toString("utf8")).toBe(odd);
    expect([...(await subscriber.waitForEvent("data-bytes")).body]).toEqual([...bytes]);
    expect([...(await subscriber.waitForEvent("data-b64")).body]).toEqual([...bytes]);
  });
});

describe("invalid trigger filters are refused when the Trigger is loaded", () => {
  const cases: Array<[string, string, string]> = [
    ["two dialects in one filter", `filters: [ { exact: { type: a }, prefix: { type: b } } ]`, "one-dialect"],
    ["a bad attribute name in filter.attributes", `filter: { attributes: { Type: a } }`, "attribute-name"],
    ["a bad attribute name in a dialect", `filters: [ { prefix: { "a-b": x } } ]`, "attribute-name"],
    ["an attribute name starting with a digit", `filters: [ { exact: { 1type: x } } ]`, "attribute-name"],
    ["a CESQL parse error", `filters: [ { cesql: "type = = 'x'" } ]`, "cesql"],
    ["an unknown dialect", `filters: [ { regex: { type: "x.*" } } ]`, "dialect"],
  ];
  for (const [name, filter, rule] of cases) {
    it(`refuses ${name}, naming the Trigger and the rule`, async () => {
      const yaml = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: broken, namespace: test }
spec:
  broker: default
  subscriber: { uri: "http://127.0.0.1:9/x" }
  ${filter}`;
      const error = await startTestRuntime(yaml).then(
        async (runtime) => {
          await runtime.shutdown();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidObjectsError);
      expect((error as Error).message).toContain("Trigger/test/broken");
      expect((error as Error).message).toContain(rule);
    });
  }
});
