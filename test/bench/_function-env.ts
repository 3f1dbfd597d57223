/**
 * The environment each function starts with in the coldstart benchmark: exactly what `knclaw dev` gives it (the
 * rendered ksvc's env through the dev runtime's own builder), for a config that deploys every kind of function.
 * Platform secrets are generated as `knclaw dev` generates them; channel secrets get throwaway values. A real memory
 * service runs, because readiness of some functions reflects it.
 */
import { randomBytes } from "node:crypto";
import { buildFunctionEnv } from "../../cli/dev/function-env.ts";
import { createSecretResolver } from "../../cli/dev/secrets.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { createApp as createMemoryApp } from "../../functions/memory/app.ts";
import { loadConfig } from "../../knative/config/index.ts";
import { ANNOTATION_ENTRY, render } from "../../knative/render/index.ts";
import { type Served, serve } from "../../knative/serving/serve.ts";

const FIXTURE = new URL("./fixtures/all-functions.yaml", import.meta.url).pathname;

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: bench, cluster: { server: "https://127.0.0.1:9", insecure-skip-tls-verify: true } }]
users: [{ name: bench, user: { token: bench-token } }]
contexts: [{ name: bench, context: { cluster: bench, user: bench } }]
current-context: bench
`;

export interface BenchFunctionEnvs {
  /** Env by the entry's folder (e.g. `functions/agent`), so a bundle finds its own. */
  byFolder: Map<string, Record<string, string>>;
  close(): Promise<void>;
}

export async function benchFunctionEnvs(): Promise<BenchFunctionEnvs> {
  const config = loadConfig({ path: FIXTURE });
  const services = (render(config) as unknown as KnativeObject[]).filter(
    (o) => o.kind === "Service" && o.metadata.annotations?.[ANNOTATION_ENTRY] !== undefined,
  );
  const secrets = createSecretResolver({});
  let memory: Served | undefined;
  const memoryClusterUrl = `http://memory.${config.metadata.namespace}.svc.cluster.local`;
  const envOf = (service: KnativeObject) => {
    const built = buildFunctionEnv(service, {
      secrets,
      configMaps: new Map(),
      sink: { url: "http://127.0.0.1:9/bench/default" },
      port: 0,
      rewrite: (value) => (memory ? value.replaceAll(memoryClusterUrl, memory.url) : value),
    });
    // Channel secrets are the operator's to give; any well-formed value starts the adapter.
    for (const missing of built.missing) built.env[missing.split(" ")[0]!] = randomBytes(24).toString("base64url");
    return built.env;
  };
  const memoryService = services.find((s) => s.metadata.name === "memory")!;
  const memoryEnv = envOf(memoryService);
  memory = await serve(await createMemoryApp({ ...memoryEnv, NODE_ENV: "production", KNCLAW_LOG_LEVEL: "silent" }), {
    port: 0,
    host: "127.0.0.1",
  });
  const byFolder = new Map<string, Record<string, string>>();
  for (const service of services) {
    const folder = service.metadata.annotations![ANNOTATION_ENTRY]!.replace(/\/app\.ts$/, "");
    const env = service === memoryService ? memoryEnv : envOf(service);
    if (folder === "skills/kubernetes") env.KNCLAW_KUBECONFIG = KUBECONFIG;
    byFolder.set(folder, { ...env, NODE_ENV: "production", KNCLAW_LOG_LEVEL: "silent" });
  }
  return { byFolder, close: () => memory!.shutdown() };
}
