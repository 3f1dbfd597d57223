import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GatewayRateLimit } from "../../../functions/gateway/env.ts";

/**
 * The gateway README's route table is read as a table (GitHub-flavoured Markdown splits a row at every unescaped `|`,
 * inside code spans too) and as text (in an editor or a terminal), and it must list what the gateway serves.
 */
const root = new URL("../../../", import.meta.url);
const readme = readFileSync(new URL("functions/gateway/README.md", root), "utf8");

/** The rows of the table whose header is `| method and path | ...`, up to the first line that is not a row. */
function routeTable(): string[] {
  const lines = readme.split("\n");
  const start = lines.findIndex((line) => line.startsWith("| method and path |"));
  expect(start).toBeGreaterThanOrEqual(0);
  const rows: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line);
  }
  return rows;
}

/** A row's cells, split as GFM splits them: at every `|` not escaped by a backslash. */
function cells(row: string): string[] {
  return row
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

const ROUTE = /^`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)`$/;

/** The `METHOD /path` a first cell names; `.../x` replaces the last segment of the route before it. */
function documentedRoutes(first: string): string[] {
  const routes: string[] = [];
  for (const item of first.split(/,\s*/)) {
    const relative = /^`\.\.\.\/([^`/]+)`$/.exec(item);
    if (relative) {
      const previous = routes.at(-1);
      expect(previous, `${item} follows no route`).toBeDefined();
      routes.push(previous!.replace(/\/[^/]+$/, `/${relative[1]}`));
      continue;
    }
    const match = ROUTE.exec(item);
    expect(match, `not a route: ${item}`).not.toBeNull();
    routes.push(`${match![1]} ${match![2]}`);
  }
  return routes;
}

/** Every route registered in the gateway's sources (`app.get("/path", ...)`, `app.on(["GET", ...], "/path", ...)`). */
function registeredRoutes(): string[] {
  const dir = new URL("functions/gateway/", root);
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts"));
  const routes: string[] = [];
  for (const file of files) {
    const source = readFileSync(new URL(file, dir), "utf8");
    for (const match of source.matchAll(/\b\w*[aA]pp\.(get|post|put|patch|delete)\(\s*"([^"]+)"/g)) {
      routes.push(...expand(match[1]!.toUpperCase(), match[2]!));
    }
    for (const match of source.matchAll(/\b\w*[aA]pp\.on\(\s*\[([^\]]+)\],\s*"([^"]+)"/g)) {
      for (const method of match[1]!.matchAll(/"(\w+)"/g)) routes.push(...expand(method[1]!, match[2]!));
    }
  }
  return routes;
}

/** hono's `:name` is the README's `{name}`; `:name{a|b}` is two routes, one per alternative. */
function expand(method: string, path: string): string[] {
  const alternatives = /:\w+\{([\w|]+)\}/.exec(path);
  if (alternatives) {
    return alternatives[1]!.split("|").flatMap((choice) => expand(method, path.replace(alternatives[0], choice)));
  }
  return [`${method} ${path.replace(/:(\w+)/g, "{$1}")}`];
}

describe("functions/gateway/README.md, the route table", () => {
  it("is a table: three cells a row, no escaped pipes, every first cell a list of routes", () => {
    const rows = routeTable();
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) {
      expect(
        row,
        "an escaped pipe renders as a pipe on GitHub and as a backslash and a new cell elsewhere",
      ).not.toMatch(/\\\|/);
      expect(cells(row), row).toHaveLength(3);
      documentedRoutes(cells(row)[0]!);
    }
  });

  it("reads as text: no row is longer than 160 characters (details live in the sections below it)", () => {
    const long = routeTable().filter((row) => row.length > 160);
    expect(long).toEqual([]);
  });

  it("lists every route the gateway registers", () => {
    const documented = new Set(routeTable().flatMap((row) => documentedRoutes(cells(row)[0]!)));
    const registered = registeredRoutes();
    expect(registered.length).toBeGreaterThan(20);
    expect(registered.filter((route) => !documented.has(route))).toEqual([]);
  });
});

describe("functions/gateway/README.md, the rate limit", () => {
  it("states the default limit the gateway applies, per token", () => {
    const { requestsPerMinute, burst } = GatewayRateLimit.parse({});
    // Prose wraps anywhere: compare with the line breaks as spaces.
    expect(readme.replace(/\s+/g, " ")).toContain(
      `**${requestsPerMinute} requests a minute, bursts of ${burst}, per token**`,
    );
  });
});
