import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

/** Every deployable function in the tree: a folder with a `main.ts` under functions/, functions/channels/ or skills/. */
export interface FunctionEntry {
  /** Bundle and image name, e.g. `memory`, `channel-slack`, `skill-http`. */
  name: string;
  /** Repo-relative path of the function's main.ts. */
  main: string;
}

export function findFunctionEntries(root: string): FunctionEntry[] {
  const entries: FunctionEntry[] = [];
  const scan = (dir: string) => {
    const abs = join(root, dir);
    if (!existsSync(abs)) return;
    for (const item of readdirSync(abs, { withFileTypes: true })) {
      if (!item.isDirectory()) continue;
      const main = join(abs, item.name, "main.ts");
      if (existsSync(main)) entries.push({ name: bundleName(`${dir}/${item.name}`)!, main: relative(root, main) });
    }
  };
  scan("functions");
  scan("functions/channels");
  scan("skills");
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

const BUNDLE_PREFIX: Record<string, string> = { "functions/channels": "channel-", functions: "", skills: "skill-" };

/**
 * The bundle name of a function folder (`functions/agent` -> `agent`, `functions/channels/slack` -> `channel-slack`,
 * `skills/http` -> `skill-http`), or undefined for a path that is no function folder. The image's launcher maps a
 * ksvc's KNCLAW_ENTRY (`functions/agent/app.ts`) to its bundle with it.
 */
export function bundleName(folder: string): string | undefined {
  const match = /^(functions\/channels|functions|skills)\/([^/]+)$/.exec(folder);
  if (!match) return undefined;
  return `${BUNDLE_PREFIX[match[1]!]}${match[2]}`;
}
