/**
 * The Secrets a deploy applies besides the render: the files `knclaw secrets generate -o DIR` wrote (or any Secret
 * YAML in DIR). Values stay in memory, travel only in the apply request and appear in no message; stringData becomes
 * data here, because the server turns it into data anyway and an applied stringData would differ from what it stores.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { type ApplyObject, DeployError } from "./apply.ts";

export function readSecretManifests(dir: string): ApplyObject[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new DeployError(`--secrets ${dir}: no such directory`);
  }
  const out: ApplyObject[] = [];
  for (const name of names.filter((n) => /\.ya?ml$/.test(n) && !n.startsWith(".")).sort()) {
    const path = join(dir, name);
    for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
      // A YAML error message may quote the line it is on, which may hold a value: say where only.
      if (document.errors.length > 0) throw new DeployError(`${path} is not valid YAML`);
      const object = document.toJS() as Record<string, unknown> | null;
      if (object?.kind !== "Secret" || object.apiVersion !== "v1") continue;
      const metadata = object.metadata as ApplyObject["metadata"] | undefined;
      if (typeof metadata?.name !== "string") throw new DeployError(`${path}: a Secret without a name`);
      const data: Record<string, string> = { ...((object.data ?? {}) as Record<string, string>) };
      for (const [key, value] of Object.entries((object.stringData ?? {}) as Record<string, unknown>)) {
        data[key] = Buffer.from(String(value), "utf8").toString("base64");
      }
      const { stringData: _stringData, ...rest } = object;
      out.push({ ...rest, apiVersion: "v1", kind: "Secret", metadata: { ...metadata }, data } as ApplyObject);
    }
  }
  return out;
}
