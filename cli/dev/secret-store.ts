import { lstatSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writePrivateFile } from "../../knative/secrets/files.ts";

/**
 * Where `knclaw dev` keeps the secret values it generates (the memory token secret, the agent and event signing keys),
 * so that a restart is not a trust reset: events signed before it still verify after it, and tool calls re-sent after
 * it still carry tokens the skills accept. One JSON file, `<state dir>/secrets/generated.json`, mode 0600, in a
 * directory of mode 0700 that must belong to this user and be nobody else's to read; it is replaced atomically, so a
 * crash mid-write leaves the earlier file. Values never appear in an error.
 */
export interface GeneratedSecretStore {
  get(id: string): string | undefined;
  set(id: string, value: string): void;
}

/** A store that forgets at exit (the library's default, for tests). */
export function memorySecretStore(): GeneratedSecretStore {
  const values = new Map<string, string>();
  return { get: (id) => values.get(id), set: (id, value) => void values.set(id, value) };
}

export class SecretStoreError extends Error {
  override readonly name = "SecretStoreError";
}

const FILE = "generated.json";

export function fileSecretStore(stateDir: string): GeneratedSecretStore {
  const dir = join(stateDir, "secrets");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivate(dir, "dir");
  const path = join(dir, FILE);
  const values = new Map<string, string>(Object.entries(readValues(path)));
  return {
    get: (id) => values.get(id),
    set(id, value) {
      values.set(id, value);
      try {
        writePrivateFile(path, JSON.stringify(Object.fromEntries(values), null, 2));
      } catch (error) {
        throw new SecretStoreError(`could not write ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
      }
    },
  };
}

function readValues(path: string): Record<string, string> {
  if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return {};
  checkPrivate(path, "file");
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new SecretStoreError(`${path} is not the JSON knclaw dev wrote: move it away to start with new keys`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SecretStoreError(`${path} is not the JSON knclaw dev wrote: move it away to start with new keys`);
  }
  const values: Record<string, string> = {};
  for (const [id, value] of Object.entries(parsed)) if (typeof value === "string") values[id] = value;
  return values;
}

/** Ours, not a link, and closed to group and others: a value someone else could read or plant is no secret. */
function checkPrivate(path: string, kind: "dir" | "file"): void {
  const stat = lstatSync(path);
  const uid = process.getuid?.();
  const ours = uid === undefined || stat.uid === uid;
  const right = kind === "dir" ? stat.isDirectory() : stat.isFile();
  if (stat.isSymbolicLink() || !right || !ours || (stat.mode & 0o077) !== 0) {
    const wanted = kind === "dir" ? "a directory of mode 0700" : "a file of mode 0600";
    throw new SecretStoreError(`${path} must be ${wanted} owned by this user (knclaw dev keeps its keys there)`);
  }
}
