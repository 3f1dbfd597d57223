import { mkdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { build, type Plugin } from "esbuild";
import type { FunctionEntry } from "./function-entries.ts";

export interface BundleResult {
  name: string;
  file: string;
  bytes: number;
}

export interface BundleOptions {
  /** Write linked source maps beside the code (default true); the image leaves them out (most of a bundle's bytes). */
  sourceMaps?: boolean;
}

/**
 * One self-contained ESM entry per function (`index.mjs`, plus chunks for code loaded on demand): no node_modules in
 * the image and little to parse at start, which is what keeps a scale-from-zero start short. CommonJS dependencies
 * get a `require` shim through the banner.
 */
export async function bundleFunction(
  root: string,
  entry: FunctionEntry,
  outDir: string,
  options: BundleOptions = {},
): Promise<BundleResult> {
  const dir = join(outDir, entry.name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, "index.mjs");
  await build({
    entryPoints: { index: join(root, entry.main) },
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    // Dynamic imports (an agent's one model SDK out of several) become chunks that are parsed only when loaded.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    minify: true,
    sourcemap: options.sourceMaps === false ? false : "linked",
    legalComments: "linked",
    logLevel: "warning",
    plugins: [zodEnglishOnly],
    banner: {
      js: "import { createRequire as __knclawCreateRequire } from 'node:module'; const require = __knclawCreateRequire(import.meta.url);",
    },
  });
  await writeFile(join(dir, "package.json"), `${JSON.stringify({ type: "module", main: "index.mjs" }, null, 2)}\n`);
  return { name: entry.name, file, bytes: (await stat(file)).size };
}

/**
 * zod re-exports all of its ~50 translated error-message locales from its namespace object, which defeats tree
 * shaking: 258 KiB of every bundle that knclaw never uses (its errors are English). Only `en` is kept.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: new URL(args.path, `file://${args.importer}`).pathname, namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from "./en.js";`,
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};
