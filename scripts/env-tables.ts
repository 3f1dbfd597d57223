/**
 * The environment tables of the function READMEs, generated from the functions' env contracts (functions/<name>/env.ts,
 * functions/channels/toolkit/env.ts, skills/runtime/env.ts): each README holds its table between
 * `<!-- env:begin -->` and `<!-- env:end -->`, and this script rewrites what lies between.
 *
 *   npm run docs:env            rewrite the tables
 *   npm run docs:env -- --check exit 1 when a README's table is out of date
 *
 * test/scripts/env-tables.test.ts fails when a committed table differs from what this renders.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { agentEnv } from "../functions/agent/env.ts";
import { channelEnv } from "../functions/channels/toolkit/env.ts";
import { deadletterEnv } from "../functions/deadletter/env.ts";
import { gatewayEnv } from "../functions/gateway/env.ts";
import { memoryEnv } from "../functions/memory/env.ts";
import type { EnvContract, EnvDoc } from "../runtime/env-contract.ts";
import { platformVars } from "../runtime/platform-env.ts";
import { mcpEnv } from "../skills/mcp/env.ts";
import { skillEnv } from "../skills/runtime/env.ts";

export const BEGIN = "<!-- env:begin -->";
export const END = "<!-- env:end -->";

type AnyContract = Pick<EnvContract<Record<string, never>>, "docs">;

/** Each README with a table, and the contract it documents (paths relative to the repository root). */
export const TABLES: ReadonlyArray<{ readme: string; contract: AnyContract }> = [
  { readme: "functions/agent/README.md", contract: agentEnv },
  { readme: "functions/gateway/README.md", contract: gatewayEnv },
  { readme: "functions/memory/README.md", contract: memoryEnv },
  { readme: "functions/deadletter/README.md", contract: deadletterEnv },
  { readme: "functions/channels/README.md", contract: channelEnv },
  { readme: "skills/runtime/README.md", contract: skillEnv },
  { readme: "skills/mcp/README.md", contract: mcpEnv },
];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The variables every function shares: named once under each table rather than repeated in it. */
const SHARED = new Set(Object.values(platformVars).map((spec) => spec.name));

/** The generated block, markers included. */
export function renderTable(contract: AnyContract): string {
  const docs = contract.docs();
  const own = docs.filter((doc) => !SHARED.has(doc.variable));
  const shared = docs.filter((doc) => SHARED.has(doc.variable));
  const lines = [
    BEGIN,
    "<!-- generated from the env contract by `npm run docs:env`; edit the contract, not this table -->",
    "",
    "| variable | value | meaning |",
    "| --- | --- | --- |",
    ...own.map((doc) => `| \`${doc.variable}\` | ${valueColumn(doc)} | ${escapePipes(doc.description)} |`),
    "",
    `Shared by every function (runtime/platform-env.ts): ${shared.map((doc) => `\`${doc.variable}\``).join(", ")}.`,
    END,
  ];
  return lines.join("\n");
}

function valueColumn(doc: EnvDoc): string {
  const kind = doc.secret ? "Secret" : doc.json ? "JSON" : "text";
  return `${kind}, ${doc.presence}`;
}

function escapePipes(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The README with its table replaced; throws when the markers are missing. */
export function withTable(readme: string, path: string, contract: AnyContract): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${path}: no ${BEGIN} ... ${END} section to write the table into`);
  return readme.slice(0, begin) + renderTable(contract) + readme.slice(end + END.length);
}

/** README paths whose table differs from the contract, after writing them unless `check`. */
function refreshTables(check: boolean): string[] {
  const stale: string[] = [];
  for (const { readme, contract } of TABLES) {
    const path = `${ROOT}${readme}`;
    const current = readFileSync(path, "utf8");
    const next = withTable(current, readme, contract);
    if (next === current) continue;
    stale.push(readme);
    if (!check) writeFileSync(path, next);
  }
  return stale;
}

function main(argv: readonly string[]): number {
  const check = argv.includes("--check");
  const stale = refreshTables(check);
  if (check && stale.length > 0) {
    console.error(`out of date (run npm run docs:env): ${stale.join(", ")}`);
    return 1;
  }
  if (!check) for (const readme of stale) console.log(`wrote ${readme}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
