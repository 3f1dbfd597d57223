import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { folderCycles, importEdges, importViolations } from "../../scripts/import-direction.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("import direction", () => {
  it("reads the repo's imports (the check is not vacuous)", () => {
    const edges = importEdges(root);
    expect(edges.length).toBeGreaterThan(1000);
    expect(edges).toContainEqual({ from: "functions/agent/main.ts", to: "runtime/serve.ts" });
  });

  it("finds no import against the layering and no cycle between top-level folders", () => {
    expect(importViolations(root)).toEqual([]);
    expect(folderCycles(root)).toEqual([]);
  });
});
