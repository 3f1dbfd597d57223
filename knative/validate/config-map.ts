/**
 * What the API server checks of a ConfigMap beyond its schema (k8s.io/kubernetes pkg/apis/core/validation,
 * ValidateConfigMap): every key of `data` and `binaryData` is a ConfigMap key (`[-._a-zA-Z0-9]+`, at most 253
 * characters, not `.`, `..` or starting with `..`), no key is in both, and keys and values together stay within
 * 1 MiB. Past 256 KiB it still applies, but not with kubectl's client-side apply, which copies the whole object into
 * its `last-applied-configuration` annotation (annotations hold 256 KiB in all): a warning says so. A value that
 * looks like a credential is a warning too (a skill folder's file, say: knative/render/skill-folders.ts).
 */
import { isObject, type Json, type ProblemSink } from "./problems.ts";
import { detectLiteralSecret } from "./secrets.ts";

const MAX_BYTES = 1024 * 1024;
const MAX_ANNOTATION_BYTES = 256 * 1024;
const KEY = /^[-._a-zA-Z0-9]+$/;

export function validateConfigMap(object: Json, sink: ProblemSink): void {
  let bytes = 0;
  const seen = new Set<string>();
  for (const field of ["data", "binaryData"] as const) {
    const map = object[field];
    if (!isObject(map)) continue;
    for (const [key, value] of Object.entries(map)) {
      const why = keyProblem(key);
      if (why !== undefined) sink.error(`${field}[${key}]`, "config-map-key", why);
      if (seen.has(key)) sink.error(`${field}[${key}]`, "config-map-key", "duplicate of key in data");
      seen.add(key);
      // binaryData is base64 in the object and counted decoded by the API server.
      const size =
        typeof value !== "string"
          ? 0
          : field === "data"
            ? Buffer.byteLength(value)
            : Buffer.from(value, "base64").length;
      bytes += Buffer.byteLength(key) + size;
      // Anyone who may read the namespace's ConfigMaps reads this: a credential belongs in a Secret.
      const secret = field === "data" && typeof value === "string" ? detectLiteralSecret(value) : undefined;
      if (secret !== undefined)
        sink.warn(`data[${key}]`, "no-literal-secrets", `looks like it holds a ${secret}: keep it in a Secret`);
    }
  }
  if (bytes > MAX_BYTES) {
    sink.error("data", "config-map-size", `${bytes} bytes: a ConfigMap holds at most ${MAX_BYTES} bytes (1 MiB)`);
  } else if (bytes > MAX_ANNOTATION_BYTES) {
    sink.warn(
      "data",
      "config-map-size",
      `${bytes} bytes: too large for kubectl's client-side apply (its last-applied annotation holds 256 KiB); ` +
        "apply it with knclaw deploy or kubectl apply --server-side",
    );
  }
}

function keyProblem(key: string): string | undefined {
  if (key.length > 253) return "must be no more than 253 characters";
  if (!KEY.test(key)) return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
  if (key === "." || key === "..") return `must not be '${key}'`;
  if (key.startsWith("..")) return "must not start with '..'";
  return undefined;
}
