import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gatewayEnv } from "../../functions/gateway/env.ts";
import { renderTable, TABLES, withTable } from "../../scripts/env-tables.ts";

const root = new URL("../../", import.meta.url);

describe("README env tables", () => {
  it.each(TABLES.map((table) => [table.readme, table] as const))(
    "%s holds what `npm run docs:env` renders from its env contract (run it after changing the contract)",
    (readme, { contract }) => {
      const text = readFileSync(new URL(readme, root), "utf8");
      expect(withTable(text, readme, contract)).toBe(text);
    },
  );

  it("lists each variable with how it travels, whether it must be set, and what it means", () => {
    const table = renderTable(gatewayEnv);
    expect(table).toContain("| `KNCLAW_GATEWAY_MAX_WAIT_SECONDS` | text, default `120` | the longest");
    expect(table).toContain("| `KNCLAW_GATEWAY_TOKEN_<NAME>` | Secret, one per name in the config |");
    expect(table).toContain("| `KNCLAW_GATEWAY_RATE_LIMIT` | JSON, default `{");
    // The shared variables are named once, under the table, not as rows.
    expect(table).not.toContain("| `KNCLAW_ENTRY` |");
    expect(table).toContain("Shared by every function (runtime/platform-env.ts): `KNCLAW_ENTRY`");
  });

  it("refuses a README without the markers instead of guessing where the table goes", () => {
    expect(() => withTable("# no table here\n", "x/README.md", gatewayEnv)).toThrow(/env:begin/);
  });
});
