/**
 * `npm run bench -- image`: builds the image (`knclaw image build`, podman), reports its size, and times every
 * function's start inside it (spawn -> first 200 from /readyz, as uid 65532 on a read-only root, the entry as PID 1:
 * test/support/image-rootfs.ts), each as the image runs it (the launcher picks the bundle from KNCLAW_ENTRY) and
 * directly (`node /app/functions/<name>/index.mjs`, what an image per function would run). Baseline in the same run:
 * the same launcher and bundle started outside the image by the project's Node; starts are interleaved so that the
 * machine's drift hits every mode alike. A bare node:http server started both ways shows what this harness's namespaces,
 * mounts and chroot add to any start. The size an image per function would have is computed from the bundles.
 * Last line: {"bench":"image","image_mb":N,"worst_ready_ms":N,"baseline_worst_ready_ms":N,"ratio":N,...}
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { findFunctionEntries } from "../../cli/bundle/function-entries.ts";
import { buildImage } from "../../cli/image/build.ts";
import { IMAGE_FUNCTIONS, IMAGE_LAUNCHER, IMAGE_NODE, IMAGE_UID } from "../../cli/image/rootfs.ts";
import { repoRoot } from "../../cli/repo-root.ts";
import {
  entryPid,
  exitCode,
  exportImage,
  type ImageConfig,
  imageConfig,
  spawnInRootfs,
  startUntilReady,
} from "../support/image-rootfs.ts";
import { benchFunctionEnvs } from "./support/function-env.ts";

const RUNS = Number(process.env.IMAGE_RUNS ?? 5);
const root = repoRoot();
const work = await mkdtemp(join(tmpdir(), "knclaw-image-bench-"));
const tag = `localhost/knclaw-bench:${randomBytes(4).toString("hex")}`;
const MB = 1_000_000; // as `podman images` and registries count

type Mode = "image" | "direct" | "outside";

/** A bare node:http server, the floor any start stands on, inside the image or not. */
const BARE_SERVER = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT))";

/** Spawns one start of a function in `mode`, with the image's environment and the function's. */
function functionStart(rootfs: string, image: ImageConfig, mode: Mode, bundle: string, env: Record<string, string>) {
  return (port: number) => {
    const withPort = { ...image.env, ...env, PORT: String(port) };
    if (mode === "outside") {
      return spawn(process.execPath, [join(rootfs, IMAGE_LAUNCHER)], {
        env: withPort,
        stdio: ["ignore", "ignore", "pipe"],
      });
    }
    const argv = mode === "image" ? image.command : [IMAGE_NODE, `${IMAGE_FUNCTIONS}/${bundle}/index.mjs`];
    return spawnInRootfs(rootfs, IMAGE_UID, argv, withPort);
  };
}

function bareStart(rootfs: string, inImage: boolean) {
  return (port: number) =>
    inImage
      ? spawnInRootfs(rootfs, IMAGE_UID, [IMAGE_NODE, "-e", BARE_SERVER], { PORT: String(port) })
      : spawn(process.execPath, ["-e", BARE_SERVER], {
          env: { PORT: String(port) },
          stdio: ["ignore", "ignore", "pipe"],
        });
}

/** One start, killed once ready; its ready time in ms. */
async function startOnce(start: (port: number) => ChildProcess, inImage: boolean): Promise<number> {
  const started = await startUntilReady(start);
  // Killing the entry (PID 1 of its namespace) ends the namespace and with it unshare.
  process.kill(inImage ? await entryPid(started.child) : started.child.pid!, "SIGKILL");
  await exitCode(started.child);
  return started.readyMs;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Bytes of the files under `dir`, each file (inode: the image stores hard links once) counted once in `counted`. */
async function bytesUnder(dir: string, counted = new Set<number>()): Promise<number> {
  let total = 0;
  for (const item of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!item.isFile()) continue;
    const info = await stat(join(item.parentPath, item.name));
    if (counted.has(info.ino)) continue;
    counted.add(info.ino);
    total += info.size;
  }
  return total;
}

const envs = await benchFunctionEnvs();
try {
  const built = await buildImage({
    root,
    contextDir: join(work, "context"),
    tag,
    lockFile: join(work, "unused.lock.yaml"),
  });
  const imageBytes = Number(
    execFileSync("podman", ["image", "inspect", "--format", "{{.Size}}", tag], { encoding: "utf8" }),
  );
  const rootfs = join(work, "rootfs");
  await mkdir(rootfs);
  await exportImage(tag, rootfs);
  const image = await imageConfig(tag);

  const entries = findFunctionEntries(root);
  const bundleBytes = new Map<string, number>();
  for (const entry of entries) bundleBytes.set(entry.name, await bytesUnder(join(rootfs, IMAGE_FUNCTIONS, entry.name)));
  const allBundles = await bytesUnder(join(rootfs, IMAGE_FUNCTIONS));
  const perFunction = [...bundleBytes.values()].map((own) => (imageBytes - allBundles + own) / MB);
  console.log(
    `image ${tag} ${(imageBytes / MB).toFixed(1)} MB (${built.functions.length} functions; bundles ${(allBundles / MB).toFixed(1)} MB, runtime and system files ${((imageBytes - allBundles) / MB).toFixed(1)} MB)`,
  );
  console.log(
    `an image per function instead: ${Math.min(...perFunction).toFixed(1)}-${Math.max(...perFunction).toFixed(1)} MB each, ${perFunction.reduce((a, b) => a + b, 0).toFixed(0)} MB for all of them`,
  );

  // What the start of any process costs in the image (this harness's namespaces, mounts and chroot, as a container
  // runtime's own setup would) against outside, measured on a bare server.
  const bareSamples = { image: [] as number[], outside: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    bareSamples.image.push(await startOnce(bareStart(rootfs, true), true));
    bareSamples.outside.push(await startOnce(bareStart(rootfs, false), false));
  }
  const bare = { image: median(bareSamples.image), outside: median(bareSamples.outside) };
  console.log(
    `${"baseline (bare node:http)".padEnd(24)} in image ${bare.image.toFixed(1).padStart(7)} ms  ${"".padEnd(17)}  outside ${bare.outside.toFixed(1).padStart(7)} ms  ratio ${(bare.image / bare.outside).toFixed(2)}x`,
  );

  let worst = { image: 0, direct: 0, outside: 0 };
  let rows = 0;
  for (const entry of entries) {
    const folder = dirname(entry.main);
    const env = envs.byFolder.get(folder);
    if (!env) throw new Error(`no rendered ksvc runs ${entry.main}: add it to test/bench/fixtures/all-functions.yaml`);
    for (const run of [{ label: entry.name, env }, ...(envs.variants.get(folder) ?? [])]) {
      const samples: Record<Mode, number[]> = { image: [], direct: [], outside: [] };
      for (let i = 0; i < RUNS; i++) {
        for (const mode of ["image", "direct", "outside"] as const) {
          const start = functionStart(rootfs, image, mode, entry.name, run.env);
          samples[mode].push(await startOnce(start, mode !== "outside"));
        }
      }
      const ms = { image: median(samples.image), direct: median(samples.direct), outside: median(samples.outside) };
      worst = {
        image: Math.max(worst.image, ms.image),
        direct: Math.max(worst.direct, ms.direct),
        outside: Math.max(worst.outside, ms.outside),
      };
      rows += 1;
      console.log(
        `${run.label.padEnd(24)} in image ${ms.image.toFixed(1).padStart(7)} ms  direct ${ms.direct.toFixed(1).padStart(7)} ms  outside ${ms.outside.toFixed(1).padStart(7)} ms  ratio ${(ms.image / ms.outside).toFixed(2)}x`,
      );
    }
  }
  console.log(
    `${entries.length} functions in ${rows} configurations, median of ${RUNS} starts each; targets: image < 150 MB, worst ready in the image < 400 ms`,
  );
  console.log(
    JSON.stringify({
      bench: "image",
      image_mb: Number((imageBytes / MB).toFixed(1)),
      worst_ready_ms: Number(worst.image.toFixed(1)),
      baseline_worst_ready_ms: Number(worst.outside.toFixed(1)),
      ratio: Number((worst.image / worst.outside).toFixed(2)),
      direct_worst_ready_ms: Number(worst.direct.toFixed(1)),
      bare_in_image_ms: Number(bare.image.toFixed(1)),
      bare_outside_ms: Number(bare.outside.toFixed(1)),
      per_function_image_mb: Number(Math.max(...perFunction).toFixed(1)),
      bundles_mb: Number((allBundles / MB).toFixed(1)),
      functions: entries.length,
      configurations: rows,
    }),
  );
} finally {
  await envs.close();
  try {
    execFileSync("podman", ["rmi", "--force", tag], { stdio: "ignore" });
  } catch {
    // not built: nothing to remove
  }
  await rm(work, { recursive: true, force: true });
}
