/**
 * The parts of `knclaw image build` that need no container tool: the command lines for each tool, where a push goes,
 * which libraries the runtime links, which bundle a container runs, and the image lock render pins functions on.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRender } from "../../../cli/commands/render.ts";
import { dockerRepoDigest, pushTarget } from "../../../cli/image/build.ts";
import { buildCommand, dockerDigestCommand, pushCommands } from "../../../cli/image/builder.ts";
import { bundleForEntry } from "../../../cli/image/entry-bundle.ts";
import { parseLdd } from "../../../cli/image/rootfs.ts";
import { imageLock, readImageLock, writeImageLock } from "../../../knative/config/image-lock.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("container tool command lines", () => {
  const build = { containerfile: "/c/Containerfile", context: "/c", tag: "localhost/knclaw:t", idFile: "/c/id" };

  it("builds reproducibly with podman and buildah (epoch timestamps), plainly with docker", () => {
    expect(buildCommand("podman", build)).toEqual(
      ["podman", "build", "--timestamp", "0", "-f", "/c/Containerfile", "-t", "localhost/knclaw:t"].concat([
        "--iidfile",
        "/c/id",
        "/c",
      ]),
    );
    expect(buildCommand("buildah", build)[0]).toBe("buildah");
    expect(buildCommand("docker", build)).toEqual([
      "docker",
      "build",
      "-f",
      "/c/Containerfile",
      "-t",
      "localhost/knclaw:t",
      "--iidfile",
      "/c/id",
      "/c",
    ]);
  });

  it("pushes with a digest file (podman, buildah) or a tag and a read-back (docker)", () => {
    const push = { image: "localhost/knclaw:t", ref: "ghcr.io/me/knclaw:1", digestFile: "/c/d", tlsVerify: true };
    expect(pushCommands("podman", push)).toEqual([
      ["podman", "push", "--digestfile", "/c/d", "localhost/knclaw:t", "docker://ghcr.io/me/knclaw:1"],
    ]);
    expect(pushCommands("buildah", { ...push, tlsVerify: false })).toEqual([
      [
        "buildah",
        "push",
        "--tls-verify=false",
        "--digestfile",
        "/c/d",
        "localhost/knclaw:t",
        "docker://ghcr.io/me/knclaw:1",
      ],
    ]);
    expect(pushCommands("docker", push)).toEqual([
      ["docker", "tag", "localhost/knclaw:t", "ghcr.io/me/knclaw:1"],
      ["docker", "push", "ghcr.io/me/knclaw:1"],
    ]);
    expect(dockerDigestCommand("ghcr.io/me/knclaw:1")).toEqual([
      "docker",
      "image",
      "inspect",
      "--format",
      "{{json .RepoDigests}}",
      "ghcr.io/me/knclaw:1",
    ]);
    expect(
      dockerRepoDigest(
        JSON.stringify([`other/x@sha256:${"cd".repeat(32)}`, `me/knclaw@${DIGEST}`]),
        "docker.io/me/knclaw",
      ),
    ).toBe(DIGEST);
  });

  it("names the registry of every push target, Docker Hub's for a reference without one", () => {
    expect(pushTarget("ghcr.io/me/knclaw:1.2")).toEqual({
      ref: "ghcr.io/me/knclaw:1.2",
      repository: "ghcr.io/me/knclaw",
    });
    expect(pushTarget("127.0.0.1:5000/knclaw")).toEqual({
      ref: "127.0.0.1:5000/knclaw",
      repository: "127.0.0.1:5000/knclaw",
    });
    expect(pushTarget("me/knclaw")).toEqual({ ref: "docker.io/me/knclaw", repository: "docker.io/me/knclaw" });
    expect(() => pushTarget(`ghcr.io/me/knclaw@${DIGEST}`)).toThrow(/registry\/repository\[:tag\]/);
    expect(() => pushTarget("Not A Ref")).toThrow(/registry\/repository/);
  });
});

describe("the runtime's libraries", () => {
  it("are what ldd resolves, the dynamic loader included", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f16b8a00000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f16b881e000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f16b8d93000)",
    ].join("\n");
    expect(parseLdd(output)).toEqual([
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });

  it("must all be found", () => {
    expect(() => parseLdd("\tlibfoo.so.1 => not found\n")).toThrow(/libfoo\.so\.1 => not found/);
  });
});

describe("the launcher's choice of bundle", () => {
  it("follows KNCLAW_ENTRY as rendered, or a bundle name", () => {
    expect(bundleForEntry("functions/agent/app.ts")).toBe("agent");
    expect(bundleForEntry("functions/channels/slack/app.ts")).toBe("channel-slack");
    expect(bundleForEntry("skills/http/app.ts")).toBe("skill-http");
    expect(bundleForEntry("skills/time")).toBe("skill-time");
    expect(bundleForEntry("channel-discord")).toBe("channel-discord");
  });

  it("never leaves the functions folder", () => {
    for (const path of ["../etc/passwd", "/etc/passwd", "functions/a/b/c/app.ts", "", "x/y"]) {
      expect(bundleForEntry(path)).toBeUndefined();
    }
  });
});

describe("the image lock", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "knclaw-image-lock-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("pins every function of a render that has no image of its own, whatever images.registry says", async () => {
    const lock = join(dir, "lock.yaml");
    writeImageLock(lock, imageLock(`registry.example:5000/team/knclaw@${DIGEST}`));
    expect(readImageLock(lock).images.default).toBe(`registry.example:5000/team/knclaw@${DIGEST}`);
    const yaml = runRender({ images: lock }).yaml ?? "";
    const images = new Set([...yaml.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]));
    expect(images).toEqual(new Set([`registry.example:5000/team/knclaw@${DIGEST}`]));
  });

  it("refuses a reference that is not pinned by digest, naming the file", async () => {
    const lock = join(dir, "tagged.yaml");
    await writeFile(
      lock,
      "apiVersion: knclaw.dev/v1alpha1\nkind: ImageLock\nimages:\n  default: ghcr.io/me/knclaw:1\n",
    );
    expect(() => readImageLock(lock)).toThrow(/tagged\.yaml: images\.default: an image reference pinned by digest/);
    expect(() => imageLock("ghcr.io/me/knclaw:1")).toThrow();
  });
});
