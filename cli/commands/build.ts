import { resolve } from "node:path";
import type { Command } from "commander";
import { bundleFunction } from "../bundle/bundle.ts";
import { findFunctionEntries } from "../bundle/function-entries.ts";
import { repoRoot } from "../repo-root.ts";

export function registerBuildCommand(program: Command): void {
  program
    .command("build")
    .description("bundle every function into one ESM file each (dist/functions/<name>/index.mjs)")
    .option("-o, --out <dir>", "output directory", "dist/functions")
    .option("--only <names...>", "bundle only these functions")
    .action(async (options: { out: string; only?: string[] }) => {
      const root = repoRoot();
      const outDir = resolve(options.out);
      const entries = findFunctionEntries(root).filter((e) => !options.only || options.only.includes(e.name));
      for (const entry of entries) {
        const result = await bundleFunction(root, entry, outDir);
        console.log(`${result.name.padEnd(24)} ${(result.bytes / 1024).toFixed(0).padStart(6)} KiB  ${result.file}`);
      }
    });
}
