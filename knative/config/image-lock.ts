/**
 * The image lock: the digest `knclaw image build --push` got from the registry, which rendering pins every function
 * on (as `ko` resolves image references to digests). It lives in a file of its own so that a build never rewrites the
 * operator's knclaw.yaml, and a render without it still renders the config as written.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { checkImageRef } from "../validate/image.ts";
import type { PlatformConfig } from "./schema.ts";
import { API_VERSION } from "./sections/platform.ts";

const DigestRef = z.string().refine(
  (value) => {
    const check = checkImageRef(value);
    return check.ok && check.pinned;
  },
  { message: "an image reference pinned by digest (<repository>@sha256:<64 hex>)" },
);

const ImageLockSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("ImageLock"),
  images: z.strictObject({
    /** The image holding every built-in function, replacing `images.default` of the config. */
    default: DigestRef,
  }),
});

export type ImageLock = z.infer<typeof ImageLockSchema>;

export function imageLock(defaultImage: string): ImageLock {
  return ImageLockSchema.parse({ apiVersion: API_VERSION, kind: "ImageLock", images: { default: defaultImage } });
}

export function writeImageLock(file: string, lock: ImageLock): void {
  const header =
    "# Written by `knclaw image build --push`; `knclaw render --images <this file>` pins functions on it.\n";
  writeFileSync(file, header + stringify(lock));
}

export function readImageLock(file: string): ImageLock {
  const parsed = ImageLockSchema.safeParse(parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join(".") || "document"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The config with the lock's image as its default. Functions with an image of their own (their knob or
 * `images.functions`) keep it; the lock's reference names its registry, so `images.registry` does not prefix it.
 */
export function withImageLock(config: PlatformConfig, lock: ImageLock): PlatformConfig {
  return { ...config, images: { ...config.images, default: lock.images.default } };
}
