import type { Command } from "commander";
import { readImageLock, withImageLock } from "../../knative/config/image-lock.ts";
import { requireImages } from "../../knative/config/images.ts";
import { defaultConfigPath, loadConfig } from "../../knative/config/index.ts";
import { render, toYaml, writeManifests } from "../../knative/render/index.ts";

export interface RenderOptions {
  config?: string;
  out?: string;
  /** Also write kustomization.yaml next to the files (default true). */
  kustomization?: boolean;
  /** An image lock from `knclaw image build --push`: every function without an image of its own runs its digest. */
  images?: string;
}

export interface RenderResult {
  /** Files written, when `out` was given. */
  files: string[];
  /** The YAML, when no `out` was given. */
  yaml?: string;
}

/** `knclaw render`: config -> YAML on stdout, or one file per function in a directory. */
export function runRender(options: RenderOptions = {}): RenderResult {
  const source = options.config ?? defaultConfigPath;
  const loaded = loadConfig(source);
  const config = requireImages(
    options.images === undefined ? loaded : withImageLock(loaded, readImageLock(options.images)),
    source,
  );
  const objects = render(config);
  if (options.out === undefined) return { files: [], yaml: toYaml(objects) };
  return { files: writeManifests(objects, options.out, { kustomization: options.kustomization !== false }) };
}

export function registerRenderCommand(program: Command): void {
  program
    .command("render")
    .description("render knclaw.yaml into Knative + Kubernetes YAML (kubectl apply -k DIR, kustomize or Argo CD)")
    .option("-c, --config <file>", "platform config", defaultConfigPath)
    .option("-o, --out <dir>", "write one file per function into DIR (stdout when omitted)")
    .option("--no-kustomization", "do not write kustomization.yaml (for kubectl apply -f DIR)")
    .option("--images <lock>", "pin functions on the image digest `knclaw image build --push` wrote to this lock")
    .action((options: { config: string; out?: string; kustomization: boolean; images?: string }) => {
      const result = runRender(options);
      if (result.yaml !== undefined) process.stdout.write(result.yaml);
      else for (const file of result.files) console.error(`wrote ${file}`);
    });
}
