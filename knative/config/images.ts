/**
 * Whether every function has an image. A cluster pulls one per function, so `knclaw render`, `validate` and `deploy`
 * need them all (after an image lock from `knclaw image build --push` filled `images.default`); `knclaw dev` runs the
 * functions from this checkout and pulls nothing, so a config without an `images` section is a valid config and only
 * these commands refuse it.
 */
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { listFunctions, resolveImage } from "./functions.ts";
import type { PlatformConfig } from "./schema.ts";

/** One issue per function without an image. */
export function missingImages(config: PlatformConfig): ConfigIssue[] {
  return listFunctions(config)
    .filter((fn) => resolveImage(config, fn) === undefined)
    .map((fn) => ({
      path: "images",
      rule: "image-ref",
      message: `no image for function ${fn.name}: set ${[...new Set([fn.name, fn.component])].map((k) => `images.functions.${k}`).join(", ")} or images.default, or pass an image lock (--images); only knclaw dev runs without images`,
    }));
}

/** The config, when every function has an image; else a ConfigError naming each function without one. */
export function requireImages(config: PlatformConfig, source?: string): PlatformConfig {
  const issues = missingImages(config);
  if (issues.length > 0) throw new ConfigError(issues, source);
  return config;
}

/**
 * The image a function without one is rendered with where nothing will be pulled: knclaw dev (it mounts the
 * function's `knclaw.dev/entry`), `knclaw skills list` (it runs MCP skills as knclaw dev would) and `knclaw secrets
 * generate` (it reads which Secrets the objects reference).
 * `.invalid` (RFC 2606) says so to anyone who reads those objects.
 */
export const PLACEHOLDER_IMAGE = "knclaw.invalid/not-pulled:placeholder";

/** The config with the placeholder for the functions without an image; the others keep theirs. */
export function withPlaceholderImages(config: PlatformConfig): PlatformConfig {
  if (missingImages(config).length === 0) return config;
  return { ...config, images: { ...config.images, default: PLACEHOLDER_IMAGE } };
}
