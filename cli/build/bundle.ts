import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import type { FunctionEntry } from "./function-entries.ts";

export interface BundleResult {
  name: string;
  file: string;
  bytes: number;
}

/**
 * One self-contained ESM file per function: no node_modules in the image and one file to parse at start, which is
 * what keeps a scale-from-zero start short. CommonJS dependencies get a `require` shim through the banner.
 */
export async function bundleFunction(root: string, entry: FunctionEntry, outDir: string): Promise<BundleResult> {
  const dir = join(outDir, entry.name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, "index.mjs");
  await build({
    entryPoints: [join(root, entry.main)],
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    minify: true,
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
    banner: {
      js: "import { createRequire as __knclawCreateRequire } from 'node:module'; const require = __knclawCreateRequire(import.meta.url);",
    },
  });
  await writeFile(join(dir, "package.json"), `${JSON.stringify({ type: "module", main: "index.mjs" }, null, 2)}\n`);
  return { name: entry.name, file, bytes: (await stat(file)).size };
}
