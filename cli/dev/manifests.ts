import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { isRecord, type KnativeObject } from "../../eventing/broker/objects.ts";

/**
 * `--manifests DIR`: every `.yaml`, `.yml` and `.json` file under DIR (recursively, in name order), each holding one
 * or more Kubernetes objects (`---`-separated documents, or a `List`). Problems name the file and document.
 */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

export async function loadManifests(dir: string): Promise<KnativeObject[]> {
  const files = await listFiles(dir);
  const objects: KnativeObject[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8");
    objects.push(...parseManifests(text, relative(process.cwd(), file) || file));
  }
  return objects;
}

async function listFiles(dir: string): Promise<string[]> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new ManifestError(`cannot read manifests directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if ([".yaml", ".yml", ".json"].includes(extname(entry.name))) files.push(path);
  }
  return files;
}

export function parseManifests(text: string, source: string): KnativeObject[] {
  const objects: KnativeObject[] = [];
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  list.forEach((document, index) => {
    const where = `${source} (document ${index + 1})`;
    if (document.errors.length > 0) throw new ManifestError(`${where}: invalid YAML: ${document.errors[0]!.message}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    for (const item of flatten(value, where)) objects.push(checkObject(item, where));
  });
  return objects;
}

function flatten(value: unknown, where: string): unknown[] {
  if (isRecord(value) && typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
    return value.items.flatMap((item) => flatten(item, where));
  }
  return [value];
}

function checkObject(value: unknown, where: string): KnativeObject {
  if (!isRecord(value)) throw new ManifestError(`${where}: not a Kubernetes object`);
  if (typeof value.apiVersion !== "string" || value.apiVersion === "") throw new ManifestError(`${where}: apiVersion is required`);
  if (typeof value.kind !== "string" || value.kind === "") throw new ManifestError(`${where}: kind is required`);
  const metadata = value.metadata;
  if (!isRecord(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
    throw new ManifestError(`${where}: ${value.kind}: metadata.name is required`);
  }
  if (metadata.namespace !== undefined && typeof metadata.namespace !== "string") {
    throw new ManifestError(`${where}: ${value.kind} ${metadata.name}: metadata.namespace must be a string`);
  }
  return value as KnativeObject;
}
