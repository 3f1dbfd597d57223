import { describe, expect, it } from "vitest";
import { compileAttributesFilter } from "../../../eventing/filters/attributes.ts";
import { compileSubscriptionsApiFilters } from "../../../eventing/filters/subscriptions-api.ts";
import { compileTriggerFilter } from "../../../eventing/filters/trigger-filter.ts";
import { FilterError } from "../../../eventing/filters/types.ts";

const event = {
  specversion: "1.0",
  id: "1",
  source: "/shop/eu",
  type: "order.created",
  subject: "Abc",
  knclawinstance: "ops",
  empty: "",
};

describe("filter.attributes", () => {
  it("matches exact, case-sensitive values on every key", () => {
    expect(compileAttributesFilter({ type: "order.created", source: "/shop/eu" })(event)).toBe(true);
    expect(compileAttributesFilter({ type: "order.created", source: "/shop" })(event)).toBe(false);
    expect(compileAttributesFilter({ subject: "abc" })(event)).toBe(false);
  });
  it("treats an empty value as 'present with any non-empty value'", () => {
    expect(compileAttributesFilter({ knclawinstance: "" })(event)).toBe(true);
    expect(compileAttributesFilter({ empty: "" })(event)).toBe(false);
    expect(compileAttributesFilter({ missing: "" })(event)).toBe(false);
  });
  it("matches everything when empty or absent", () => {
    expect(compileAttributesFilter({})(event)).toBe(true);
    expect(compileAttributesFilter(undefined)(event)).toBe(true);
  });
  it("refuses bad attribute names and non-string values", () => {
    expect(() => compileAttributesFilter({ Type: "x" })).toThrow(FilterError);
    expect(() => compileAttributesFilter({ "1a": "x" })).toThrow(/\^\[a-z\]\[a-z0-9\]\*\$/);
    expect(() => compileAttributesFilter({ type: 3 })).toThrow(/must be a string/);
    expect(() => compileAttributesFilter(["type"])).toThrow(/map/);
  });
});

describe("Subscriptions API filters", () => {
  const match = (filters: unknown) => compileSubscriptionsApiFilters(filters)(event);

  it("exact / prefix / suffix: case-sensitive, every key, absent attribute fails", () => {
    expect(match([{ exact: { type: "order.created" } }])).toBe(true);
    expect(match([{ exact: { type: "Order.created" } }])).toBe(false);
    expect(match([{ prefix: { type: "order." } }])).toBe(true);
    expect(match([{ prefix: { type: "Order." } }])).toBe(false);
    expect(match([{ suffix: { source: "/eu" } }])).toBe(true);
    expect(match([{ suffix: { source: "/us" } }])).toBe(false);
    expect(match([{ exact: { missing: "x" } }])).toBe(false);
    expect(match([{ prefix: { type: "order.", subject: "A" } }])).toBe(true);
    expect(match([{ prefix: { type: "order.", subject: "B" } }])).toBe(false);
  });
  it("skips an empty expected value (Knative quirk), even for an absent attribute", () => {
    expect(match([{ exact: { missing: "" } }])).toBe(true);
    expect(match([{ suffix: { type: "" } }])).toBe(true);
  });
  it("all / any / not compose", () => {
    expect(match([{ all: [{ prefix: { type: "order." } }, { exact: { subject: "Abc" } }] }])).toBe(true);
    expect(match([{ all: [{ prefix: { type: "order." } }, { exact: { subject: "x" } }] }])).toBe(false);
    expect(match([{ any: [{ exact: { type: "x" } }, { exact: { subject: "Abc" } }] }])).toBe(true);
    expect(match([{ any: [{ exact: { type: "x" } }, { exact: { subject: "y" } }] }])).toBe(false);
    expect(match([{ not: { exact: { type: "order.created" } } }])).toBe(false);
    expect(match([{ not: { not: { exact: { type: "order.created" } } } }])).toBe(true);
  });
  it("ANDs the items of the list", () => {
    expect(match([{ prefix: { type: "order." } }, { exact: { knclawinstance: "ops" } }])).toBe(true);
    expect(match([{ prefix: { type: "order." } }, { exact: { knclawinstance: "dev" } }])).toBe(false);
  });
  it("cesql: matches on true, and an evaluation error counts as no match", () => {
    expect(match([{ cesql: "type LIKE 'order.%' AND knclawinstance = 'ops'" }])).toBe(true);
    expect(match([{ cesql: "type = 'x'" }])).toBe(false);
    // INT('Abc') is a cast error (whose value, 0, would satisfy the comparison): no match.
    expect(match([{ cesql: "INT(subject) < 100" }])).toBe(false);
    expect(match([{ cesql: "missingattr = 'x' OR TRUE" }])).toBe(false);
  });
  it("treats empty dialects as unset, and a filter with none set as no filter (Knative)", () => {
    expect(match([{}])).toBe(true);
    expect(match([{ exact: {} }])).toBe(true);
    expect(match([{ cesql: "" }, { exact: { type: "order.created" } }])).toBe(true);
    expect(match([{ exact: {}, prefix: { type: "x" } }])).toBe(false);
  });
  it("refuses two dialects in one filter, unknown dialects, bad names and CESQL parse errors", () => {
    const refuse = (filters: unknown, rule: string, path: string) => {
      try {
        compileSubscriptionsApiFilters(filters);
      } catch (error) {
        expect(error).toBeInstanceOf(FilterError);
        expect((error as FilterError).rule).toBe(rule);
        expect((error as FilterError).path).toBe(path);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(filters)}`);
    };
    refuse([{ exact: { type: "a" }, prefix: { type: "b" } }], "filter-one-dialect", "spec.filters[0]");
    refuse([{ regex: { type: "a" } }], "filter-dialect", "spec.filters[0]");
    refuse([{ all: [{ exact: { "a-b": "x" } }] }], "filter-attribute-name", "spec.filters[0].all[0].exact");
    refuse([{ cesql: "type = = 'x'" }], "cesql-parse", "spec.filters[0].cesql");
    refuse([{ not: { any: [{ exact: { type: 1 } }] } }], "filter-value", "spec.filters[0].not.any[0].exact.type");
    refuse({ exact: {} }, "filter-list", "spec.filters");
  });
});

describe("Trigger filter choice", () => {
  it("spec.filters, when non-empty, replaces spec.filter", () => {
    const filter = compileTriggerFilter({
      filter: { attributes: { type: "never" } },
      filters: [{ exact: { type: "order.created" } }],
    });
    expect(filter(event)).toBe(true);
  });
  it("an empty spec.filters leaves spec.filter in charge", () => {
    expect(compileTriggerFilter({ filter: { attributes: { type: "never" } }, filters: [] })(event)).toBe(false);
  });
  it("no filter at all matches every event", () => {
    expect(compileTriggerFilter({})(event)).toBe(true);
  });
  it("validates spec.filter even when spec.filters wins, so a typo never hides", () => {
    expect(() =>
      compileTriggerFilter({ filter: { attributes: { Bad: "x" } }, filters: [{ exact: { type: "a" } }] }),
    ).toThrow(FilterError);
  });
});
