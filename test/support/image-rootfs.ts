/**
 * Running a built image's entry point without a container runtime (this sandbox cannot run one: it lacks
 * CAP_SYS_RESOURCE, so crun and runc fail to set rlimits). The image's filesystem is exported, and each process starts
 * the way a restricted pod would run it: in its own PID namespace (the entry is PID 1) and mount namespace, chrooted
 * into the rootfs mounted read-only, as the image's non-root uid, with /proc and /dev mounted and an emptyDir-like
 * tmpfs on /tmp. The network is the host's, so loopback reaches the test's servers.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { freePort } from "./free-port.ts";

const run = promisify(execFile);

/** The image's filesystem, unpacked into `dir` (as `podman create` + `podman export` give it). */
export async function exportImage(image: string, dir: string): Promise<void> {
  // The archive has no entry for `/` itself: the directory becomes the root, searchable by every uid as a root is.
  await chmod(dir, 0o755);
  const { stdout } = await run("podman", ["create", image]);
  const container = stdout.trim();
  try {
    await run("sh", ["-c", 'podman export "$1" | tar -x -C "$2"', "sh", container, dir]);
  } finally {
    await run("podman", ["rm", container]);
  }
}

export interface ImageConfig {
  /** `NAME=value` pairs the runtime gives every process of the image. */
  env: Record<string, string>;
  /** ENTRYPOINT followed by CMD. */
  command: string[];
  user: string;
}

/** What the image tells a container runtime: its environment, command and user. */
export async function imageConfig(image: string): Promise<ImageConfig> {
  const { stdout } = await run("podman", ["image", "inspect", "--format", "{{json .Config}}", image]);
  const config = JSON.parse(stdout) as { Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; User?: string };
  const env = Object.fromEntries(
    (config.Env ?? []).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
  return { env, command: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])], user: config.User ?? "" };
}

const IN_ROOTFS = `set -e
root=$1; user=$2; shift 2
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
exec chroot --userspec="$user:$user" "$root" "$@"`;

/**
 * Start `command` inside the rootfs as `uid`. The returned process is `unshare`'s; it exits with the entry's status.
 * Only `env` reaches the entry (nothing of the test's environment).
 */
export function spawnInRootfs(rootfs: string, uid: number, command: string[], env: Record<string, string>) {
  return spawn(
    "unshare",
    ["-m", "-p", "-f", "--mount-proc", "sh", "-c", IN_ROOTFS, "sh", rootfs, String(uid), ...command],
    { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, stdio: ["ignore", "ignore", "pipe"] },
  );
}

/** The host pid of the entry (PID 1 of its namespace): `unshare -f`'s one child, once it has forked. */
export async function entryPid(child: ChildProcess): Promise<number> {
  const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8");
  const pid = Number(children.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`unshare ${child.pid} has no child yet`);
  return pid;
}

/** What the kernel says about a running entry: its uids, its pid inside its namespace, whether its root is read-only. */
export async function entryFacts(pid: number): Promise<{ uids: number[]; nsPid: number; readOnlyRoot: boolean }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const uids = (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "").split(/\s+/).map(Number);
  const nsPid = Number((/^NSpid:\s+(.*)$/m.exec(status)?.[1] ?? "").split(/\s+/).at(-1));
  // mountinfo as the process sees it: field 5 is the mount point relative to its root, field 6 the mount options.
  const mounts = (await readFile(`/proc/${pid}/mountinfo`, "utf8")).split("\n").map((line) => line.split(" "));
  const root = mounts.filter((fields) => fields[4] === "/").at(-1);
  return { uids, nsPid, readOnlyRoot: root?.[5]?.split(",").includes("ro") ?? false };
}

export interface ReadyProcess {
  child: ChildProcess;
  port: number;
  /** Spawn -> first 200 from /readyz. */
  readyMs: number;
  stderr(): string;
}

/**
 * Spawn a function (in the image or not) on a free port and wait for its first 200 from /readyz; a process that
 * exits first, or is not ready within `timeoutMs`, fails with what it wrote to stderr.
 */
export async function startUntilReady(
  start: (port: number) => ChildProcess,
  timeoutMs = 30_000,
): Promise<ReadyProcess> {
  const port = await freePort();
  const started = performance.now();
  const child = start(port);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`exited with ${code} before ready:\n${stderr.slice(-2000)}`))),
  );
  exited.catch(() => undefined);
  for (;;) {
    if (performance.now() - started > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`not ready within ${timeoutMs} ms:\n${stderr.slice(-2000)}`);
    }
    const ready = await Promise.race([
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (response) => response.status === 200,
        () => false,
      ),
      exited,
    ]);
    if (ready) return { child, port, readyMs: performance.now() - started, stderr: () => stderr };
    // Readiness is polled as a kubelet probe would (and as the coldstart benchmark does), at a fine grain.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Resolves with the exit code once the process has ended (null when a signal ended it). */
export function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}
