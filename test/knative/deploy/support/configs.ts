/** The configs the deploy tests put on the cluster, each moved into a namespace of its own and written to a file. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";

const ROOT = new URL("../../../../", import.meta.url).pathname;

function yamlConfig(path: string): Record<string, unknown> {
  return parse(readFileSync(join(ROOT, path), "utf8")) as Record<string, unknown>;
}

export const defaultConfig = () => yamlConfig("knative/defaults/knclaw.yaml");
export const allFunctionsConfig = () => yamlConfig("test/bench/fixtures/all-functions.yaml");
export const productionConfig = () => yamlConfig("knative/defaults/production.yaml");

/** The config with its platform in `namespace`, written to a temporary file; returns the path. */
export function configFile(config: Record<string, unknown>, namespace: string): string {
  const metadata = { ...((config.metadata as Record<string, unknown> | undefined) ?? {}), namespace };
  const path = join(mkdtempSync(join(tmpdir(), "knclaw-deploy-")), "knclaw.yaml");
  writeFileSync(path, stringify({ ...config, metadata }));
  return path;
}
