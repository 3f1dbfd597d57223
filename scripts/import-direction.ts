/**
 * The layering rule, checked: run-time code depends downwards only.
 *
 *   cli/                      -> anything
 *   knative/ (config schema, renderer, validators, secrets; build time)
 *                             -> functions' contracts, skills, clients, eventing, runtime
 *   functions/<name>/         -> its own folder, skills/{runtime,package}, clients, eventing, runtime
 *                                (a channel adapter may also use functions/channels/toolkit)
 *   skills/<built-in skill>/  -> its own folder, skills/{runtime,package}, clients, eventing, runtime
 *   skills/{runtime,package}  -> clients, eventing, runtime
 *   clients/                  -> eventing, runtime
 *   eventing/                 -> runtime
 *   runtime/                  -> nothing of the repo's but itself
 *
 * So nothing at run time imports the config schema, the renderer, the validators or the CLI, a function never imports
 * another function, and top-level folders form no cycle. `npm run check:imports` prints every import against the
 * direction; the test suite runs the same check.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE_FOLDERS = ["runtime", "eventing", "clients", "skills", "functions", "knative", "cli", "scripts"];
const SKILL_LIBRARIES = new Set(["runtime", "package"]);

/** What a module is, for the rule: its top-level folder and, where it matters, its unit inside. */
interface Place {
  top: string;
  /** functions/<name>, skills/<name>; channel adapters are functions/channels/<platform>. */
  unit: string;
}

function placeOf(file: string): Place {
  const parts = file.split(sep);
  const top = parts[0]!;
  if (top === "functions" && parts[1] === "channels") return { top, unit: parts.slice(0, 3).join("/") };
  if (top === "functions" || top === "skills") return { top, unit: parts.slice(0, 2).join("/") };
  return { top, unit: top };
}

const BELOW: Record<string, readonly string[]> = {
  runtime: [],
  eventing: ["runtime"],
  clients: ["eventing", "runtime"],
  skills: ["clients", "eventing", "runtime"],
  functions: ["skills", "clients", "eventing", "runtime"],
  knative: ["functions", "skills", "clients", "eventing", "runtime"],
  cli: ["knative", "functions", "skills", "clients", "eventing", "runtime"],
  scripts: ["cli", "knative", "functions", "skills", "clients", "eventing", "runtime"],
};

/** Why `from` may not import `to`, or undefined when it may. */
function violation(from: Place, to: Place): string | undefined {
  if (from.unit === to.unit) return undefined;
  if (from.top !== to.top) {
    return BELOW[from.top]?.includes(to.top) ? undefined : `${from.top}/ may not depend on ${to.top}/`;
  }
  if (from.top === "functions") {
    if (to.unit === "functions/channels/toolkit" && from.unit.startsWith("functions/channels/")) return undefined;
    return "a function never imports another function";
  }
  if (from.top === "skills") {
    const toLibrary = SKILL_LIBRARIES.has(to.unit.slice("skills/".length));
    const fromLibrary = SKILL_LIBRARIES.has(from.unit.slice("skills/".length));
    if (toLibrary) return undefined;
    return fromLibrary ? "the skill runtime never imports a built-in skill" : "a skill never imports another skill";
  }
  return undefined;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\b[^"';]*?\bfrom\s*["'](\.[^"']+)["']|\bimport\s*\(?\s*["'](\.[^"']+)["']/g;

function* sourceFiles(root: string, folder: string): Generator<string> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(join(root, folder), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(root, path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

export interface ImportEdge {
  from: string;
  to: string;
}

export function importEdges(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const folder of SOURCE_FOLDERS) {
    for (const file of sourceFiles(root, folder)) {
      const text = readFileSync(join(root, file), "utf8");
      for (const match of text.matchAll(IMPORT)) {
        const specifier = match[1] ?? match[2]!;
        edges.push({ from: file, to: relative(root, resolve(root, dirname(file), specifier)) });
      }
    }
  }
  return edges;
}

export interface Violation extends ImportEdge {
  reason: string;
}

export function importViolations(root: string): Violation[] {
  const found: Violation[] = [];
  for (const edge of importEdges(root)) {
    const reason = violation(placeOf(edge.from), placeOf(edge.to));
    if (reason !== undefined) found.push({ ...edge, reason });
  }
  return found;
}

/** Cycles in the graph of top-level folders (each as the list of folders around it); none is allowed. */
export function folderCycles(root: string): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of importEdges(root)) {
    const a = placeOf(from).top;
    const b = placeOf(to).top;
    if (a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b));
  }
  const cycles = new Map<string, string[]>();
  const visit = (node: string, path: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at < 0) {
        visit(next, [...path, next]);
        continue;
      }
      // The same cycle is met from each of its folders: keep one rotation, starting at its smallest name.
      const ring = path.slice(at);
      const first = ring.indexOf([...ring].sort()[0]!);
      const canonical = [...ring.slice(first), ...ring.slice(0, first)];
      cycles.set(canonical.join(" "), [...canonical, canonical[0]!]);
    }
  };
  for (const start of graph.keys()) visit(start, [start]);
  return [...cycles.values()];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const violations = importViolations(root);
  for (const v of violations) console.log(`${v.from} -> ${v.to}: ${v.reason}`);
  const cycles = folderCycles(root);
  for (const cycle of cycles) console.log(`cycle between top-level folders: ${cycle.join(" -> ")}`);
  console.log(`${violations.length} imports against the direction, ${cycles.length} cycles`);
  process.exit(violations.length + cycles.length === 0 ? 0 : 1);
}
