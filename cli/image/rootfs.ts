/**
 * The image's whole filesystem, assembled from what this machine already has, so that building needs no base image
 * (and no network): the pinned Node runtime from the npm `node` package, stripped of its debug symbols; the shared
 * libraries it links, copied from the host; the host's CA bundle; a passwd/group naming one fixed non-root uid; the
 * launcher and every function's bundle. Nothing else: no shell, no package manager, no node_modules.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, copyFile, link, mkdir, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { bundleFunction } from "../bundle/bundle.ts";
import { findFunctionEntries } from "../bundle/function-entries.ts";
import { writeCompileCache } from "./compile-cache.ts";

/** The uid and gid every function runs as (distroless' `nonroot`); numeric, so that runAsNonRoot can check it. */
export const IMAGE_UID = 65532;
/** Where things are inside the image. */
export const IMAGE_NODE = "/usr/local/bin/node";
export const IMAGE_LAUNCHER = "/app/launch.mjs";
export const IMAGE_FUNCTIONS = "/app/functions";
/** Node's compile cache of every start (./compile-cache.ts), beside the launcher, which enables it. */
export const IMAGE_COMPILE_CACHE = "/app/compile-cache";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface Rootfs {
  dir: string;
  /** Bundle names, as the launcher accepts them. */
  functions: string[];
}

export async function assembleRootfs(root: string, dir: string): Promise<Rootfs> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const entries = findFunctionEntries(root);
  for (const entry of entries) await bundleFunction(root, entry, join(dir, IMAGE_FUNCTIONS), { sourceMaps: false });
  await linkIdenticalFiles(join(dir, IMAGE_FUNCTIONS));
  await build({
    entryPoints: [join(root, "cli/image/launch.ts")],
    outfile: join(dir, IMAGE_LAUNCHER),
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    minify: true,
    logLevel: "warning",
  });
  const node = nodeBinary(root);
  writeCompileCache(
    node,
    join(dir, IMAGE_COMPILE_CACHE),
    entries.map((entry) => join(dir, IMAGE_FUNCTIONS, entry.name, "index.mjs")),
    IMAGE_UID,
  );
  await mkdir(join(dir, dirname(IMAGE_NODE)), { recursive: true });
  requireTool("strip", "binutils");
  execFileSync("strip", ["--strip-all", "-o", join(dir, IMAGE_NODE), node]);
  for (const library of linkedLibraries(node)) await copyInto(dir, library);
  await copyInto(dir, CA_BUNDLE).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT" ? new Error(`${CA_BUNDLE} is missing: install the ca-certificates package`) : error;
  });
  await writeSystemFiles(dir);
  await normalizeModes(dir);
  return { dir, functions: entries.map((e) => e.name) };
}

/**
 * Every bundle carries its own copy of the chunks it shares with the others (the OpenTelemetry SDK and undici, loaded
 * on demand, are 1.8 MB of each): identical files become hard links to one, which the image layer stores once
 * (36 -> 13 MB of bundles). Each function still loads exactly the files it did.
 */
async function linkIdenticalFiles(dir: string): Promise<void> {
  const first = new Map<string, string>();
  const visit = async (path: string): Promise<void> => {
    const items = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const item of items) {
      const child = join(path, item.name);
      if (item.isDirectory()) {
        await visit(child);
        continue;
      }
      const digest = createHash("sha256")
        .update(await readFile(child))
        .digest("hex");
      const original = first.get(digest);
      if (original === undefined) {
        first.set(digest, child);
      } else {
        await unlink(child);
        await link(original, child);
      }
    }
  };
  await visit(dir);
}

/** The Node binary the project pins (the npm `node` package), not whichever node runs this command. */
function nodeBinary(root: string): string {
  const pkg = createRequire(join(root, "package.json")).resolve("node/package.json");
  return join(dirname(pkg), "bin/node");
}

function requireTool(tool: string, debianPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${tool} is needed to build the image: install ${debianPackage}`);
  }
}

/** The absolute paths of the shared objects `binary` loads, the dynamic loader included, as ldd resolves them. */
function linkedLibraries(binary: string): string[] {
  return parseLdd(execFileSync("ldd", [binary], { encoding: "utf8" }));
}

export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split("\n")) {
    if (line.includes("not found")) throw new Error(`a library the Node runtime needs is missing: ${line.trim()}`);
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or the loader: `/lib64/ld-linux-x86-64.so.2 (0x...)`.
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match) paths.push(match[1]!);
  }
  return paths;
}

/** Copy a host file to the same path inside the rootfs, following symlinks (the image has only the real files). */
async function copyInto(dir: string, hostPath: string): Promise<void> {
  await mkdir(join(dir, dirname(hostPath)), { recursive: true });
  await copyFile(hostPath, join(dir, hostPath));
}

async function writeSystemFiles(dir: string): Promise<void> {
  await writeFile(
    join(dir, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\nknclaw:x:${IMAGE_UID}:${IMAGE_UID}:knclaw:/tmp:/sbin/nologin\n`,
  );
  await writeFile(join(dir, "etc/group"), `root:x:0:\nknclaw:x:${IMAGE_UID}:\n`);
  // /etc/hosts before DNS, as the pod's mounted /etc/hosts and /etc/resolv.conf expect.
  await writeFile(join(dir, "etc/nsswitch.conf"), "hosts: files dns\n");
  // Mount points: the root filesystem is read-only, so the container runtime and the tests mount onto these.
  for (const mountPoint of ["tmp", "proc", "dev"]) await mkdir(join(dir, mountPoint), { recursive: true });
}

/**
 * Every file readable and every directory searchable by the function's uid whatever this machine's umask, and nothing
 * writable by it: the image's files are root's (COPY gives them uid 0). /tmp is the sticky, world-writable exception,
 * for an emptyDir mounted there.
 */
async function normalizeModes(dir: string): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    for (const item of await readdir(path, { withFileTypes: true })) {
      const child = join(path, item.name);
      if (item.isDirectory()) {
        await chmod(child, 0o755);
        await walk(child);
      } else {
        const executable = ((await stat(child)).mode & 0o100) !== 0;
        await chmod(child, executable ? 0o755 : 0o644);
      }
    }
  };
  await chmod(dir, 0o755);
  await walk(dir);
  await chmod(join(dir, "tmp"), 0o1777);
}
