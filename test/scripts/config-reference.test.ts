import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REFERENCE_PATH, renderConfigReference } from "../../scripts/config-reference.ts";

describe("docs/config-reference.md", () => {
  const rendered = renderConfigReference();

  it("is what `npm run docs:config` renders from the schema today (run it after changing knative/config)", () => {
    expect(readFileSync(REFERENCE_PATH, "utf8")).toBe(rendered);
  });

  it("lists every section and the shared building blocks, with descriptions (the reference is not vacuous)", () => {
    for (const section of ["metadata", "broker", "memory", "gateway", "channels", "instances", "policies", "skills"]) {
      expect(rendered).toContain(`## \`${section}\``);
    }
    for (const shared of ["SecretRef", "EgressRule", "Delivery", "Destination", "KsvcKnobs", "TaskContract"]) {
      expect(rendered).toContain(`### ${shared}`);
    }
    expect(rendered).toContain("| `instances.<name>.schedules[].concurrencyPolicy` |");
    expect(rendered).toMatch(/\| `gateway\.maxWaitSeconds` \| integer, 1–3600 \| `120` \| Longest a caller may wait/);
  });
});
