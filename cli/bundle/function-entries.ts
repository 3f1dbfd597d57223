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
  const scan = (dir: string, prefix: string) => {
    const abs = join(root, dir);
    if (!existsSync(abs)) return;
    for (const item of readdirSync(abs, { withFileTypes: true })) {
      if (!item.isDirectory()) continue;
      const main = join(abs, item.name, "main.ts");
      if (existsSync(main)) entries.push({ name: `${prefix}${item.name}`, main: relative(root, main) });
    }
  };
  scan("functions", "");
  scan("functions/channels", "channel-");
  scan("skills", "skill-");
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}
