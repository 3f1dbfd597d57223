import { resolve } from "node:path";
import type { Command } from "commander";
import { buildImage } from "../image/build.ts";
import { BUILDERS, type BuilderName } from "../image/builder.ts";
import { repoRoot } from "../repo-root.ts";

const DEFAULT_IMAGE_LOCK = "knclaw-images.lock.yaml";

interface ImageBuildFlags {
  tag: string;
  push?: string;
  lock: string;
  context: string;
  builder?: BuilderName;
  tlsVerify: boolean;
}

export function registerImageCommand(program: Command): void {
  const image = program.command("image").description("the container image every function runs from");
  image
    .command("build")
    .description(
      "bundle every function and build the image (no base image is pulled); with --push, write its digest to an image lock that `knclaw render --images` pins every function on",
    )
    .option("-t, --tag <name>", "local image name", "localhost/knclaw:latest")
    .option("--push <ref>", "push to registry/repository[:tag] and write the image lock")
    .option("--lock <file>", "where --push writes the image lock", DEFAULT_IMAGE_LOCK)
    .option("--context <dir>", "scratch directory for the build context", "dist/image")
    .option("--builder <tool>", `container tool (${BUILDERS.join(", ")}; default: the first installed)`)
    .option("--no-tls-verify", "push over plain HTTP or to a self-signed registry (a local one)")
    .action(async (flags: ImageBuildFlags) => {
      if (flags.builder !== undefined && !BUILDERS.includes(flags.builder)) {
        throw new Error(`--builder must be one of ${BUILDERS.join(", ")}`);
      }
      const lockFile = resolve(flags.lock);
      const result = await buildImage({
        root: repoRoot(),
        contextDir: resolve(flags.context),
        tag: flags.tag,
        push: flags.push,
        lockFile,
        builder: flags.builder,
        tlsVerify: flags.tlsVerify,
        progress: (line) => console.error(line),
      });
      console.log(
        `image   ${result.tag} ${result.id} (${result.functions.length} functions, built with ${result.builder})`,
      );
      if (result.pinned === undefined) {
        console.error("not pushed: give --push <registry/repository> to pin rendered manifests on its digest");
        return;
      }
      console.log(`pushed  ${result.pinned}`);
      console.log(`lock    ${lockFile}`);
      console.error(`render with it: knclaw render --images ${flags.lock} -c knclaw.yaml -o deploy/`);
    });
}
