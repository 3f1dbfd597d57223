/**
 * The environment each function starts with in the coldstart benchmark: exactly what `knclaw dev` gives it (the
 * rendered ksvc's env through the dev runtime's own builder), for a config that deploys every kind of function.
 * Platform secrets are generated as `knclaw dev` generates them; channel secrets get throwaway values. A real memory
 * service runs, because readiness of some functions reflects it, and a fake Kubernetes API server (test/fakes) answers
 * the kubernetes skill, so that a call to it is a real one.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { buildFunctionEnv } from "../../../cli/dev/function-env.ts";
import { createSecretResolver } from "../../../cli/dev/secrets.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import { createApp as createMemoryApp } from "../../../functions/memory/app.ts";
import { loadConfig } from "../../../knative/config/index.ts";
import { ANNOTATION_ENTRY, render } from "../../../knative/render/index.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import * as k8s from "../../fakes/kubernetes/objects.ts";
import { type FakeKubernetes, startFakeKubernetes } from "../../fakes/kubernetes/server.ts";

const FIXTURE = new URL("../fixtures/all-functions.yaml", import.meta.url).pathname;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** The fixture's one agent instance, which every skill serves. */
export const BENCH_INSTANCE = "assistant";

interface BenchVariant {
  /** The row's name, e.g. `memory (redis)`. */
  label: string;
  env: Record<string, string>;
}

export interface BenchFunctionEnvs {
  /** Env by the entry's folder (e.g. `functions/agent`), so a bundle finds its own. */
  byFolder: Map<string, Record<string, string>>;
  /** Other configurations of a function, by folder, each measured as a row of its own. */
  variants: Map<string, BenchVariant[]>;
  close(): Promise<void>;
}

export async function benchFunctionEnvs(): Promise<BenchFunctionEnvs> {
  const config = loadConfig({ path: FIXTURE });
  const namespace = config.metadata.namespace;
  const services = (render(config) as unknown as KnativeObject[]).filter(
    (o) => o.kind === "Service" && o.metadata.annotations?.[ANNOTATION_ENTRY] !== undefined,
  );
  const secrets = createSecretResolver({}, services);
  let memory: Served | undefined;
  const memoryClusterUrl = `http://memory.${namespace}.svc.cluster.local`;
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
  const kubernetes = await fakeKubernetes(namespace);
  memory = await serve(await createMemoryApp({ ...memoryEnv, NODE_ENV: "production", KNCLAW_LOG_LEVEL: "silent" }), {
    port: 0,
    host: "127.0.0.1",
  });
  const quiet = { NODE_ENV: "production", KNCLAW_LOG_LEVEL: "silent" };
  const byFolder = new Map<string, Record<string, string>>();
  for (const service of services) {
    const folder = service.metadata.annotations![ANNOTATION_ENTRY]!.replace(/\/app\.ts$/, "");
    const env: Record<string, string> = { ...(service === memoryService ? memoryEnv : envOf(service)), ...quiet };
    if (folder === "skills/kubernetes") env.KNCLAW_KUBECONFIG = kubernetes.kubeconfig(SKILL_TOKEN);
    byFolder.set(folder, env);
  }

  const variants = new Map<string, BenchVariant[]>();
  await expectRedis(REDIS_URL);
  variants.set("functions/memory", [
    {
      label: "memory (redis)",
      // What `knclaw dev --redis` sets, and the store a cluster runs on; the prefix keeps clear of any other data.
      env: {
        ...byFolder.get("functions/memory")!,
        KNCLAW_MEMORY_BACKEND: "redis",
        KNCLAW_REDIS_URL: REDIS_URL,
        KNCLAW_REDIS_KEY_PREFIX: `knclaw-coldstart:${randomBytes(6).toString("hex")}:`,
      },
    },
  ]);
  return {
    byFolder,
    variants,
    close: async () => {
      await memory!.shutdown();
      await kubernetes.close();
    },
  };
}

const SKILL_TOKEN = "skill-kubernetes-token";

/** An API server on which the kubernetes skill may list the pods of `default` as the bench's instance. */
async function fakeKubernetes(namespace: string): Promise<FakeKubernetes> {
  const fake = await startFakeKubernetes();
  const skillUser = `system:serviceaccount:${namespace}:skill-kubernetes`;
  const instanceAccount = `skill-kubernetes-${BENCH_INSTANCE}`;
  fake.addToken(SKILL_TOKEN, skillUser);
  fake.allowImpersonation(skillUser, namespace, instanceAccount);
  fake.grant({
    user: `system:serviceaccount:${namespace}:${instanceAccount}`,
    namespace: "default",
    group: "",
    resources: ["pods"],
    verbs: ["list"],
  });
  for (let i = 0; i < 10; i++) fake.add("pods", k8s.pod("default", `web-${i}`, { labels: { app: "web" } }));
  return fake;
}

async function expectRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`the memory (redis) row needs Redis at ${url} (REDIS_URL): ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
