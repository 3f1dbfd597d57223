/**
 * The image, built for real by `knclaw image build --push` (podman, then a registry of the test's own on loopback),
 * exported and run without a container runtime: every function must start from it as the image's non-root uid, as
 * PID 1, on a read-only root filesystem, become ready, and end cleanly on SIGTERM. CI installs podman and
 * docker-registry (.ci/run); without them this fails, on purpose.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFunctionEntries } from "../../../cli/bundle/function-entries.ts";
import { runRender } from "../../../cli/commands/render.ts";
import {
  IMAGE_COMPILE_CACHE,
  IMAGE_FUNCTIONS,
  IMAGE_LAUNCHER,
  IMAGE_NODE,
  IMAGE_UID,
} from "../../../cli/image/rootfs.ts";
import { repoRoot } from "../../../cli/repo-root.ts";
import { type BenchFunctionEnvs, benchFunctionEnvs } from "../../bench/support/function-env.ts";
import { runKnclaw } from "../../support/cli-process.ts";
import {
  entryFacts,
  entryPid,
  exitCode,
  exportImage,
  type ImageConfig,
  imageConfig,
  spawnInRootfs,
  startUntilReady,
} from "../../support/image-rootfs.ts";
import { type OwnRegistry, ownRegistry } from "./support/registry.ts";

const ROOT = repoRoot();
const FIXTURE = join(ROOT, "test/bench/fixtures/all-functions.yaml");
const entries = findFunctionEntries(ROOT);
/** Exits 0 when the trusted roots are more than Node's bundled ones: the image's CA bundle was read. */
const CA_CHECK =
  "const tls = require('node:tls'); process.exit(tls.getCACertificates('default').length > tls.getCACertificates('bundled').length ? 0 : 3)";
const tag = `localhost/knclaw-image-test:${randomBytes(4).toString("hex")}`;

let work: string;
let rootfs: string;
let registry: OwnRegistry;
let envs: BenchFunctionEnvs;
let pinned: string;
let lockFile: string;
let config: ImageConfig;

function requireTool(tool: string, debianPackage: string): void {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`${tool} is not installed: .ci/run installs it (apt-get install ${debianPackage})`);
  }
}

beforeAll(async () => {
  requireTool("podman", "podman");
  requireTool("docker-registry", "docker-registry");
  work = await mkdtemp(join(tmpdir(), "knclaw-image-"));
  registry = await ownRegistry();
  lockFile = join(work, "images.lock.yaml");
  const pushRef = `${registry.host}/knclaw:test`;
  const args = ["--tag", tag, "--context", join(work, "context"), "--lock", lockFile, "--push", pushRef];
  const build = await runKnclaw(["image", "build", ...args, "--no-tls-verify"], process.env);
  expect(build.code, build.stderr).toBe(0);
  pinned = /^pushed\s+(\S+)$/m.exec(build.stdout)?.[1] ?? "";
  expect(pinned).toMatch(new RegExp(`^${registry.host.replaceAll(".", "\\.")}/knclaw@sha256:[0-9a-f]{64}$`));
  rootfs = join(work, "rootfs");
  await mkdir(rootfs);
  await exportImage(tag, rootfs);
  config = await imageConfig(tag);
  envs = await benchFunctionEnvs();
}, 600_000);

afterAll(async () => {
  await envs?.close();
  await registry?.stop();
  try {
    execFileSync("podman", ["rmi", "--force", tag], { stdio: "ignore" });
  } catch {
    // the build failed before tagging: nothing to remove
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe("knclaw image build --push", () => {
  it("stores the image in the registry under the digest it prints", async () => {
    const digest = pinned.slice(pinned.indexOf("@") + 1);
    const response = await fetch(`http://${registry.host}/v2/knclaw/manifests/${digest}`, {
      method: "HEAD",
      headers: {
        accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("docker-content-digest")).toBe(digest);
  });

  it("writes a lock that pins every rendered function on that digest", async () => {
    const yaml = runRender({ config: FIXTURE, images: lockFile }).yaml ?? "";
    const images = [...yaml.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]);
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set([pinned]));
    expect(await readFile(lockFile, "utf8")).toContain(`default: ${pinned}`);
  });
});

describe("the image", () => {
  it("runs the launcher as uid 65532, trusting its CA bundle besides Node's own", async () => {
    expect(config.user).toBe(`${IMAGE_UID}:${IMAGE_UID}`);
    expect(config.command).toEqual([IMAGE_NODE, IMAGE_LAUNCHER]);
    expect(config.env).toMatchObject({ NODE_ENV: "production", NODE_USE_SYSTEM_CA: "1" });
    const trustsBundle = spawnInRootfs(rootfs, IMAGE_UID, [IMAGE_NODE, "-e", CA_CHECK], config.env);
    expect(await exitCode(trustsBundle)).toBe(0);
  });

  it("holds the runtime, the libraries it links, CA certificates, users, the launcher and the bundles: nothing else", async () => {
    const files: string[] = [];
    const walk = async (dir: string) => {
      for (const item of await readdir(join(rootfs, dir), { withFileTypes: true })) {
        const path = `${dir}/${item.name}`;
        if (item.isDirectory()) await walk(path);
        else files.push(path);
      }
    };
    await walk("");
    const allowed = [
      new RegExp(`^${IMAGE_NODE}$`),
      new RegExp(`^${IMAGE_LAUNCHER}$`),
      /^\/app\/functions\/[a-z0-9-]+\/(index\.mjs|package\.json|chunks\/[\w-]+\.mjs|[\w.-]+\.LEGAL\.txt|chunks\/[\w.-]+\.LEGAL\.txt)$/,
      /^\/(lib|lib64|usr\/lib|usr\/lib64)\/([\w-]+\/)?(ld-linux[\w.-]*|lib[\w+.-]+\.so[\d.]*)$/,
      /^\/etc\/(passwd|group|nsswitch\.conf|ssl\/certs\/ca-certificates\.crt)$/,
      // Node's compile cache of every start, for the image's uid (cli/image/compile-cache.ts).
      new RegExp(`^${IMAGE_COMPILE_CACHE}/v[\\w.-]+-${IMAGE_UID}/[0-9a-f]{8}$`),
    ];
    expect(files.filter((file) => !allowed.some((pattern) => pattern.test(file)))).toEqual([]);
    for (const entry of entries) expect(files).toContain(`/app/functions/${entry.name}/index.mjs`);
    // Nothing in it is the function's to change: every file is root's and not writable by others.
    for (const file of files) {
      const info = await lstat(join(rootfs, file));
      expect({ file, uid: info.uid, otherWrite: (info.mode & 0o002) !== 0 }).toEqual({
        file,
        uid: 0,
        otherWrite: false,
      });
    }
    expect(await readFile(join(rootfs, "etc/passwd"), "utf8")).toContain(`:${IMAGE_UID}:${IMAGE_UID}:`);
    // A chunk several bundles share is stored once: identical files are hard links to one inode.
    const inodesByContent = new Map<string, Set<number>>();
    for (const file of files.filter((f) => f.startsWith("/app/functions/"))) {
      const path = join(rootfs, file);
      const digest = createHash("sha256")
        .update(await readFile(path))
        .digest("hex");
      inodesByContent.set(digest, (inodesByContent.get(digest) ?? new Set()).add((await lstat(path)).ino));
    }
    expect([...inodesByContent.values()].filter((inodes) => inodes.size > 1)).toEqual([]);
  });

  it.each(entries)(
    "starts $name from KNCLAW_ENTRY as uid 65532, PID 1, on a read-only root, from the compiled code the image holds; SIGTERM ends it",
    async (entry) => {
      const env = envs.byFolder.get(dirname(entry.main));
      expect(env, `no rendered ksvc runs ${entry.main}: add it to ${FIXTURE}`).toBeDefined();
      const started = await startUntilReady((port) =>
        spawnInRootfs(rootfs, IMAGE_UID, config.command, {
          ...config.env,
          ...env!,
          PORT: String(port),
          // Node's own report of each module's compile cache entry, on stderr.
          NODE_DEBUG_NATIVE: "COMPILE_CACHE",
        }),
      );
      const pid = await entryPid(started.child);
      expect(await entryFacts(pid)).toEqual({
        uids: [IMAGE_UID, IMAGE_UID, IMAGE_UID, IMAGE_UID],
        nsPid: 1,
        readOnlyRoot: true,
      });
      process.kill(pid, "SIGTERM");
      expect(await exitCode(started.child), started.stderr()).toBe(0);
      const entryFile = `file://${IMAGE_FUNCTIONS}/${entry.name}/index.mjs`;
      expect(started.stderr()).toContain(`V8 code cache for ESM ${entryFile} was accepted`);
      expect(started.stderr()).not.toMatch(/was rejected|Cannot create cache directory/);
    },
  );

  it("runs the function named by its argument, and refuses one it does not hold", async () => {
    const env = envs.byFolder.get("skills/time")!;
    const byName = await startUntilReady((port) =>
      spawnInRootfs(rootfs, IMAGE_UID, [...config.command, "skill-time"], {
        ...config.env,
        ...env,
        KNCLAW_ENTRY: "",
        PORT: String(port),
      }),
    );
    process.kill(await entryPid(byName.child), "SIGTERM");
    expect(await exitCode(byName.child)).toBe(0);

    const unknown = spawnInRootfs(rootfs, IMAGE_UID, config.command, {
      ...config.env,
      ...env,
      KNCLAW_ENTRY: "functions/nothing/app.ts",
      PORT: "0",
    });
    let stderr = "";
    unknown.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await exitCode(unknown)).toBe(64);
    expect(stderr).toContain('no function "functions/nothing/app.ts" in this image');
  });
});
