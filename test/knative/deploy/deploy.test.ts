import { dirname, join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runDelete, runDeploy, runStatus } from "../../../cli/deploy/run.ts";
import { imageLock, writeImageLock } from "../../../knative/config/image-lock.ts";
import { loadConfig } from "../../../knative/config/index.ts";
import {
  type ApplyObject,
  describeObject,
  LABEL_MANAGED_BY,
  LABEL_PLATFORM,
  listOwned,
  platformId,
  waitsForReady,
} from "../../../knative/deploy/index.ts";
import { render } from "../../../knative/render/index.ts";
import { runKnclaw } from "../../support/cli-process.ts";
import { minimalConfig } from "../fixtures.ts";
import {
  createNamespace,
  freshName,
  kubeconfigPath,
  setStatus,
  type TestCluster,
  useTestCluster,
} from "./support/cluster.ts";
import { allFunctionsConfig, configFile, defaultConfig, productionConfig } from "./support/configs.ts";

/**
 * `knclaw deploy`, `status` and `delete` against a real kube-apiserver with the Knative CRDs (support/cluster.ts):
 * what the server stores, what a second apply changes, what pruning removes, what the readiness wait and `status`
 * read from conditions the test sets as Knative's controllers would.
 */
const testCluster = useTestCluster();
let cluster: TestCluster;
beforeEach(() => {
  cluster = testCluster();
});

function lines() {
  const out: string[] = [];
  return { out, write: (line: string) => out.push(line) };
}

const rendered = (path: string) => render(loadConfig(path)) as ApplyObject[];

function twoInstances(): Record<string, unknown> {
  const config = minimalConfig();
  const instances = config.instances as Record<string, unknown>;
  instances.helper = { model: "demo/echo", skills: ["time"] };
  return config;
}

describe("knclaw deploy", () => {
  it("applies the default, all-functions and production configs, and a second deploy configures nothing", async () => {
    for (const [name, config] of [
      ["default", defaultConfig()],
      ["allfn", allFunctionsConfig()],
      ["prod", productionConfig()],
    ] as const) {
      const path = configFile(config, freshName(name));
      const objects = rendered(path);
      const first = await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
      expect(first.applied).toHaveLength(objects.length);
      expect(first.applied.every((r) => r.action === "created")).toBe(true);

      const { out, write } = lines();
      const second = await runDeploy({ config: path, cluster, wait: false, out: write, progress: () => {} });
      expect(second.applied.filter((r) => r.action !== "unchanged")).toEqual([]);
      expect(second.pruned).toEqual([]);
      expect(out.at(-1)).toBe(
        `${objects.length} objects: 0 created, 0 configured, ${objects.length} unchanged; 0 pruned`,
      );

      const owned = await listOwned(cluster.api, platformId(loadConfig(path)));
      expect(owned.map(describeObject).sort()).toEqual(objects.map(describeObject).sort());
      for (const object of owned) {
        expect(object.metadata?.labels?.[LABEL_MANAGED_BY]).toBe("knclaw");
        expect(object.metadata?.managedFields?.some((f) => f.manager === "knclaw" && f.operation === "Apply")).toBe(
          true,
        );
      }
    }
  });

  it("pins every function on the digest of an image lock (`knclaw image build --push`)", async () => {
    const namespace = freshName("lock");
    const path = configFile(defaultConfig(), namespace);
    const digest = `registry.example.com/knclaw/knclaw@sha256:${"b".repeat(64)}`;
    const lock = join(dirname(path), "knclaw-images.lock.yaml");
    writeImageLock(lock, imageLock(digest));
    await runDeploy({ config: path, images: lock, cluster, wait: false, out: () => {}, progress: () => {} });
    const gateway = (await cluster.api.read({
      apiVersion: "serving.knative.dev/v1",
      kind: "Service",
      metadata: { name: "gateway", namespace },
    })) as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } };
    expect(gateway.spec?.template?.spec?.containers?.[0]?.image).toBe(digest);
  });

  it("prunes exactly the objects the config no longer renders, and nothing it does not own", async () => {
    const namespace = freshName("prune");
    const before = configFile(twoInstances(), namespace);
    await runDeploy({ config: before, cluster, wait: false, out: () => {}, progress: () => {} });
    const platform = platformId(loadConfig(before));
    // Neighbours: one without labels, one of another platform with knclaw's labels.
    await cluster.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "not-knclaws" } } });
    await cluster.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "other-platform", labels: { [LABEL_MANAGED_BY]: "knclaw", [LABEL_PLATFORM]: "x.y" } } },
    });

    const after = configFile(minimalConfig(), namespace);
    const dropped = new Set(rendered(before).map(describeObject));
    for (const object of rendered(after)) dropped.delete(describeObject(object));
    expect(dropped.size).toBeGreaterThan(5);

    const report = await runDeploy({ config: after, cluster, wait: false, out: () => {}, progress: () => {} });
    expect([...report.pruned].sort()).toEqual([...dropped].sort());
    const owned = await listOwned(cluster.api, platform);
    expect(owned.map(describeObject).sort()).toEqual(rendered(after).map(describeObject).sort());
    const maps = await cluster.core.listNamespacedConfigMap({ namespace });
    expect(maps.items.map((m) => m.metadata?.name)).toEqual(expect.arrayContaining(["not-knclaws", "other-platform"]));

    const again = await runDeploy({ config: after, cluster, wait: false, out: () => {}, progress: () => {} });
    expect(again.pruned).toEqual([]);
    expect(again.applied.filter((r) => r.action !== "unchanged")).toEqual([]);
  });

  it("waits for Ready, prints the public URLs, and fails naming the object whose condition is False", async () => {
    const namespace = freshName("ready");
    const path = configFile(defaultConfig(), namespace);
    await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
    const waited = rendered(path).filter(waitsForReady);
    for (const object of waited) {
      const extra =
        object.kind === "Service"
          ? {
              url: `http://${object.metadata.name}.${namespace}.example.com`,
              latestReadyRevisionName: `${object.metadata.name}-00001`,
            }
          : {};
      await setStatus(cluster, object, { status: "True" }, extra);
    }

    const { out, write } = lines();
    const progress = lines();
    const report = await runDeploy({ config: path, cluster, out: write, progress: progress.write, timeoutSeconds: 30 });
    // The gateway's public paths: the runs API, the OpenAI-compatible API, MCP, and the operator console.
    expect(report.urls).toEqual(
      ["/api/v1", "/v1", "/mcp", "/console", "/"].map((path) => ({
        service: `Service.serving/${namespace}/gateway`,
        url: `http://gateway.${namespace}.example.com${path}`,
      })),
    );
    expect(out).toContain(`  Service.serving/${namespace}/gateway  http://gateway.${namespace}.example.com/api/v1`);
    expect(progress.out).toContain(`ready: ${waited.length}/${waited.length}`);

    const broker = waited.find((o) => o.kind === "Broker")!;
    await setStatus(cluster, broker, {
      status: "False",
      reason: "ChannelTemplateFailed",
      message: "no channel template for the broker class",
    });
    const run = await runKnclaw(
      ["deploy", "-c", path, "--kubeconfig", kubeconfigPath(), "--timeout", "30", "--fail-after", "0"],
      process.env,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `Broker.eventing/${namespace}/default failed (Ready=False): ChannelTemplateFailed: no channel template for the broker class`,
    );

    // A False younger than --fail-after (default 30 s) is waited out like Unknown: controllers report False briefly
    // while things start. Here the time is up first, and the timeout names it.
    await expect(
      runDeploy({ config: path, cluster, out: () => {}, progress: () => {}, timeoutSeconds: 0 }),
    ).rejects.toThrow(
      `Broker.eventing/${namespace}/default not ready (Ready=False): ChannelTemplateFailed: no channel template for the broker class`,
    );

    // Still in progress when the time is up: every such object is named with where it stands.
    await setStatus(cluster, broker, { status: "Unknown", reason: "Provisioning", message: "creating the channel" });
    await expect(
      runDeploy({ config: path, cluster, out: () => {}, progress: () => {}, timeoutSeconds: 0 }),
    ).rejects.toThrow(
      `Broker.eventing/${namespace}/default not ready (Ready=Unknown): Provisioning: creating the channel`,
    );
  });

  it("status shows every rendered object with its Ready condition, and the agent instances", async () => {
    const namespace = freshName("status");
    const path = configFile(defaultConfig(), namespace);
    await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
    const objects = rendered(path);
    const agent = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-assistant")!;
    await setStatus(
      cluster,
      agent,
      { status: "True" },
      {
        url: `http://agent-assistant.${namespace}.svc.cluster.local`,
        latestReadyRevisionName: "agent-assistant-00003",
      },
    );
    const memory = objects.find((o) => o.kind === "Service" && o.metadata.name === "memory")!;
    await setStatus(cluster, memory, {
      status: "False",
      reason: "RevisionFailed",
      message: 'Revision "memory-00001" failed with message: container exited',
    });

    const { out, write } = lines();
    const status = await runStatus({ config: path, cluster, out: write });
    expect(status.objects).toHaveLength(objects.length);
    const row = (object: string) => status.objects.find((o) => o.object === object);
    expect(row(`Service.serving/${namespace}/agent-assistant`)).toMatchObject({ ready: "True" });
    expect(row(`Service.serving/${namespace}/memory`)).toEqual({
      object: `Service.serving/${namespace}/memory`,
      ready: "False",
      reason: "RevisionFailed",
      message: 'Revision "memory-00001" failed with message: container exited',
    });
    // No controller has looked at the Broker yet (no status at all).
    expect(row(`Broker.eventing/${namespace}/default`)).toMatchObject({ ready: "Unknown", reason: "NotObserved" });
    expect(row(`ServiceAccount/${namespace}/memory`)).toMatchObject({ ready: "present" });
    expect(status.instances).toEqual([
      {
        instance: "assistant",
        service: "agent-assistant",
        ready: "True",
        revision: "agent-assistant-00003",
        pods: "0/0",
        url: `http://agent-assistant.${namespace}.svc.cluster.local`,
      },
    ]);
    const text = out.join("\n");
    expect(text).toMatch(/^OBJECT\s+READY\s+REASON\s+MESSAGE$/m);
    expect(text).toMatch(
      new RegExp(`^Service\\.serving/${namespace}/memory\\s+False\\s+RevisionFailed\\s+Revision`, "m"),
    );
    expect(text).toMatch(/^INSTANCE\s+READY\s+REVISION\s+PODS\s+URL$/m);
    expect(text).toMatch(/^assistant\s+True\s+agent-assistant-00003\s+0\/0\s+http/m);
  });

  it("delete removes everything the platform's deploy made, and only that", async () => {
    const namespace = freshName("delete");
    const path = configFile(allFunctionsConfig(), namespace);
    await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
    await cluster.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "not-knclaws" } } });
    const platform = platformId(loadConfig(path));
    const owned = (await listOwned(cluster.api, platform)).map(describeObject);

    const deleted = await runDelete({ config: path, cluster, out: () => {} });
    expect([...deleted].sort()).toEqual([...owned].sort());
    // The namespace was deleted last; this server has no namespace controller, so it stays Terminating.
    const left = await listOwned(cluster.api, platform);
    expect(left.map(describeObject)).toEqual([`Namespace/${namespace}`]);
    expect(left[0]!.metadata?.deletionTimestamp).toBeDefined();
    // The Roles in the granted namespace `default` are gone too.
    const roles = await cluster.api.list("rbac.authorization.k8s.io/v1", "Role", "default");
    expect(roles.items.filter((r) => r.metadata?.labels?.[LABEL_PLATFORM] === platform)).toEqual([]);
    const maps = await cluster.core.listNamespacedConfigMap({ namespace });
    expect(maps.items.map((m) => m.metadata?.name)).toContain("not-knclaws");
  });
});

describe("knclaw deploy --dry-run=server", () => {
  it("has the server check every object of every shipped and fixture config, storing nothing", async () => {
    const { fullConfig } = await import("../fixtures.ts");
    for (const namespace of ["web", "api"]) {
      await createNamespace(cluster, namespace).catch((error: { code?: number }) => {
        if (error.code !== 409) throw error;
      });
    }
    const configs: [string, Record<string, unknown>][] = [
      ["default", defaultConfig()],
      ["allfn", allFunctionsConfig()],
      ["minimal", minimalConfig()],
      ["full", fullConfig()],
      ["prod", productionConfig()],
      [
        "kafkachannel",
        { ...minimalConfig(), broker: { channel: "KafkaChannel" }, memory: { redis: { inCluster: {} } } },
      ],
    ];
    for (const [name, config] of configs) {
      const namespace = freshName(`dry-${name}`);
      // A dry run cannot put objects into a namespace that does not exist yet.
      await createNamespace(cluster, namespace);
      const path = configFile(config, namespace);
      const objects = rendered(path);
      const { out, write } = lines();
      const report = await runDeploy({ config: path, cluster, dryRun: true, out: write, progress: () => {} });
      expect(report.applied).toHaveLength(objects.length);
      expect(report.applied.filter((r) => r.action === "created")).toHaveLength(
        objects.filter((o) => o.kind !== "Namespace").length,
      );
      expect(out.at(-1)).toMatch(/\(server dry run\)$/);
      expect(await listOwned(cluster.api, platformId(loadConfig(path)))).toEqual([]);
    }
  });
});
