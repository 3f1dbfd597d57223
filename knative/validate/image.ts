/**
 * Container image references (the docker reference grammar go-containerregistry parses for Serving).
 * knclaw wants them pinned by digest; a tag-only reference is accepted with a warning, and nothing in knclaw
 * ever invents a digest.
 */

export interface ImageRef {
  /** Everything before the tag/digest: `[registry[:port]/]path`. */
  repository: string;
  tag: string | undefined;
  /** `sha256:<64 hex>` when pinned. */
  digest: string | undefined;
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)`;
const REFERENCE = new RegExp(
  String.raw`^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);

/** Parse an image reference; undefined when it is not one. */
export function parseImageRef(text: string): ImageRef | undefined {
  if (text.length === 0 || text.length > 512) return undefined;
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  return { repository: m[1]!, tag: m[2], digest: m[3] };
}

export type ImageCheck =
  | { ok: true; pinned: boolean; ref: ImageRef; warning?: string }
  | { ok: false; message: string };

export function checkImageRef(text: string): ImageCheck {
  const ref = parseImageRef(text);
  if (!ref) return { ok: false, message: `${JSON.stringify(text)} is not a valid image reference` };
  if (ref.digest !== undefined) {
    if (!/^sha256:[0-9a-f]{64}$/.test(ref.digest)) {
      return { ok: false, message: `digest ${ref.digest} is not sha256 followed by 64 lowercase hex characters` };
    }
    return { ok: true, pinned: true, ref };
  }
  return {
    ok: true,
    pinned: false,
    ref,
    warning: `${text} is not pinned by digest (use ${ref.repository}@sha256:<digest>): the running code can change under the same tag`,
  };
}
