/**
 * Node's compile cache (the V8 code cache of each ES module, `module.enableCompileCache`) for every function's start,
 * written when the rootfs is assembled, so that a start in the image deserializes compiled code instead of parsing and
 * compiling its bundle (about 15% of a start's CPU, `compileSourceTextModule` in a `--cpu-prof`). The root filesystem
 * is read-only, so the cache cannot be filled at run time: it ships in the image.
 *
 * The cache is portable (its keys are paths relative to its own directory), so one written under
 * dist/image/rootfs/app is valid at /app. Node checks each entry against the module's source hash and its own V8
 * version and flags, so a stale or foreign entry is only ignored, never used. It is written by the pinned Node runtime
 * (the one the image carries) and holds the modules a start links (an entry and the chunks it imports statically);
 * chunks loaded on demand are compiled when they are.
 */
import { execFileSync } from "node:child_process";
import { renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Run by the pinned Node with the cache directory and the entries as arguments. Each entry is linked (every module of
 * its static graph compiled, which is when Node writes a module's cache entry) behind a module that throws when
 * evaluated first, so that no function code runs at build time.
 */
const GENERATOR = `
import { constants, enableCompileCache, flushCompileCache, getCompileCacheDir } from "node:module";
const [directory, ...entries] = process.argv.slice(1);
const enabled = enableCompileCache({ directory, portable: true });
if (enabled.status !== constants.compileCacheStatus.ENABLED) throw new Error("compile cache: " + enabled.message);
const STOP = Symbol.for("knclaw.compile-cache.stop");
globalThis[STOP] = STOP;
for (const entry of entries) {
  const linkOnly = 'import "data:text/javascript,throw globalThis[Symbol.for(\\'knclaw.compile-cache.stop\\')]"; import ' + JSON.stringify(entry) + ";";
  await import("data:text/javascript," + encodeURIComponent(linkOnly)).then(
    () => { throw new Error(entry + " was evaluated"); },
    (error) => { if (error !== STOP) throw error; },
  );
}
flushCompileCache();
process.stdout.write(getCompileCacheDir());
`;

/**
 * Writes the compile cache of `entries` (absolute paths of the bundles' entry files) into `directory`, for `uid` to
 * read. Node keeps a cache in a subdirectory per runtime and user (`v24.21.0-x64-<flags hash>-<uid>`): the one written
 * here as this machine's user is renamed for the image's. The image test checks that a start in the image accepts it.
 */
export function writeCompileCache(node: string, directory: string, entries: string[], uid: number): void {
  const written = execFileSync(
    node,
    ["--input-type=module", "-e", GENERATOR, directory, ...entries.map((entry) => pathToFileURL(entry).href)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env.PATH ?? "" } },
  );
  const ownSuffix = `-${process.getuid?.() ?? 0}`;
  if (!basename(written).endsWith(ownSuffix)) throw new Error(`compile cache: unexpected directory ${written}`);
  renameSync(written, join(dirname(written), `${basename(written).slice(0, -ownSuffix.length)}-${uid}`));
}
