/**
 * The container tool that builds and pushes the image: podman, buildah or docker, whichever is installed (in that
 * order). Only command lines live here, so that each tool's flags are visible and tested in one place.
 */
import { execFileSync } from "node:child_process";

export const BUILDERS = ["podman", "buildah", "docker"] as const;
export type BuilderName = (typeof BUILDERS)[number];

export function findBuilder(preferred?: BuilderName): BuilderName {
  const candidates = preferred ? [preferred] : BUILDERS;
  for (const name of candidates) {
    try {
      execFileSync(name, ["--version"], { stdio: "ignore" });
      return name;
    } catch {
      // not installed: try the next one
    }
  }
  throw new Error(
    `no container builder found (${candidates.join(", ")}): install one, e.g. \`apt-get install podman\` on Debian`,
  );
}

export interface BuildRequest {
  containerfile: string;
  context: string;
  tag: string;
  /** Where the tool writes the built image's id. */
  idFile: string;
}

/**
 * The build: podman and buildah set every timestamp (the image's and its files') to the epoch, so the same bundles
 * and runtime give the same image id on any machine; docker has no such flag.
 */
export function buildCommand(builder: BuilderName, request: BuildRequest): string[] {
  const { containerfile, context, tag, idFile } = request;
  const common = ["-f", containerfile, "-t", tag, "--iidfile", idFile];
  if (builder === "docker") return ["docker", "build", ...common, context];
  return [builder, "build", "--timestamp", "0", ...common, context];
}

export interface PushRequest {
  /** The local image (its tag). */
  image: string;
  /** Where to push it: `registry/repository[:tag]`. */
  ref: string;
  /** Where podman and buildah write the digest the registry stored. */
  digestFile: string;
  /** False for a plain-HTTP or self-signed registry (a local one); podman and buildah only. */
  tlsVerify: boolean;
}

/**
 * The push. podman and buildah write the manifest digest the registry got to a file; docker pushes a tag of its own,
 * and its digest is then read back with `docker image inspect` (digestOfDockerPush).
 */
export function pushCommands(builder: BuilderName, request: PushRequest): string[][] {
  const { image, ref, digestFile, tlsVerify } = request;
  if (builder === "docker") {
    return [
      ["docker", "tag", image, ref],
      ["docker", "push", ref],
    ];
  }
  const tls = tlsVerify ? [] : ["--tls-verify=false"];
  return [[builder, "push", ...tls, "--digestfile", digestFile, image, `docker://${ref}`]];
}

/** The command that prints docker's repo digests of a pushed reference as JSON. */
export function dockerDigestCommand(ref: string): string[] {
  return ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", ref];
}
