/**
 * `knclaw image build`: assemble the rootfs, build image/Containerfile on it, and, with a push, record the digest the
 * registry stored in an image lock, from which `knclaw render --images` pins every function by digest.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { imageLock, writeImageLock } from "../../knative/config/image-lock.ts";
import { parseImageRef } from "../../knative/validate/image.ts";
import { type BuilderName, buildCommand, dockerDigestCommand, findBuilder, pushCommands } from "./builder.ts";
import { assembleRootfs } from "./rootfs.ts";

const run = promisify(execFile);

export interface ImageBuildOptions {
  /** The checkout whose functions go into the image. */
  root: string;
  /** Scratch directory for the build context (replaced). */
  contextDir: string;
  /** The local name of the image. */
  tag: string;
  /** Push to this `registry/repository[:tag]` and write the image lock. */
  push?: string;
  /** Where the image lock goes (with push). */
  lockFile: string;
  builder?: BuilderName;
  /** False for a plain-HTTP or self-signed registry. */
  tlsVerify?: boolean;
  /** Progress, one line at a time. */
  progress?: (line: string) => void;
}

export interface ImageBuildResult {
  builder: BuilderName;
  tag: string;
  /** The local image id (`sha256:...`). */
  id: string;
  functions: string[];
  /** With push: the pinned reference (`registry/repository@sha256:...`) written to the lock. */
  pinned?: string;
}

export async function buildImage(options: ImageBuildOptions): Promise<ImageBuildResult> {
  const progress = options.progress ?? (() => undefined);
  const builder = findBuilder(options.builder);
  const pushRef = options.push === undefined ? undefined : pushTarget(options.push);
  await rm(options.contextDir, { recursive: true, force: true });
  await mkdir(options.contextDir, { recursive: true });
  progress("bundling every function and assembling the rootfs");
  const rootfs = await assembleRootfs(options.root, join(options.contextDir, "rootfs"));
  const containerfile = join(options.contextDir, "Containerfile");
  await copyFile(join(options.root, "image/Containerfile"), containerfile);

  progress(`building ${options.tag} with ${builder}`);
  const idFile = join(options.contextDir, "image-id");
  await runTool(buildCommand(builder, { containerfile, context: options.contextDir, tag: options.tag, idFile }));
  const id = (await readFile(idFile, "utf8")).trim();
  const result: ImageBuildResult = { builder, tag: options.tag, id, functions: rootfs.functions };
  if (pushRef === undefined) return result;

  progress(`pushing to ${pushRef.ref}`);
  const digestFile = join(options.contextDir, "pushed-digest");
  const request = { image: options.tag, ref: pushRef.ref, digestFile, tlsVerify: options.tlsVerify !== false };
  for (const command of pushCommands(builder, request)) await runTool(command);
  const digest =
    builder === "docker"
      ? dockerRepoDigest((await runTool(dockerDigestCommand(pushRef.ref))).trim(), pushRef.repository)
      : (await readFile(digestFile, "utf8")).trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`${builder} reported no digest for the push: ${digest}`);
  result.pinned = `${pushRef.repository}@${digest}`;
  writeImageLock(options.lockFile, imageLock(result.pinned));
  return result;
}

/**
 * Where a push goes, and the repository the pinned reference names. A reference without a registry host is Docker
 * Hub's, as every tool reads it; it is written with its host, so that `images.registry` never prefixes it.
 */
export function pushTarget(ref: string): { ref: string; repository: string } {
  const parsed = parseImageRef(ref);
  if (parsed === undefined || parsed.digest !== undefined) {
    throw new Error(`--push wants registry/repository[:tag], not ${JSON.stringify(ref)}`);
  }
  const first = parsed.repository.split("/")[0]!;
  const hasHost =
    parsed.repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const repository = hasHost ? parsed.repository : `docker.io/${parsed.repository}`;
  return { ref: `${repository}${parsed.tag === undefined ? "" : `:${parsed.tag}`}`, repository };
}

/** docker's RepoDigests (`["repo@sha256:..."]`) -> the digest of `repository`. */
export function dockerRepoDigest(json: string, repository: string): string {
  const digests = JSON.parse(json) as string[];
  const bare = repository.replace(/^docker\.io\//, "");
  const match = digests.find((d) => d.startsWith(`${repository}@`) || d.startsWith(`${bare}@`));
  return match?.slice(match.indexOf("@") + 1) ?? "";
}

async function runTool(command: string[]): Promise<string> {
  const [file, ...args] = command;
  try {
    const { stdout } = await run(file!, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    const detail = (failure.stderr ?? "").trim().split("\n").slice(-15).join("\n");
    throw new Error(`${command.slice(0, 2).join(" ")} failed:\n${detail || failure.message}`);
  }
}
