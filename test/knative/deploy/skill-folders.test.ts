import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runDeploy } from "../../../cli/deploy/run.ts";
import { loadConfig } from "../../../knative/config/index.ts";
import { LABEL_MANAGED_BY, LABEL_PLATFORM, platformId } from "../../../knative/deploy/index.ts";
import { type RenderedObject, render } from "../../../knative/render/index.ts";
import { minimalConfig } from "../fixtures.ts";
import { freshName, type TestCluster, useTestCluster } from "./support/cluster.ts";
import { configFile } from "./support/configs.ts";

/**
 * `knclaw deploy` of a config with skill folders, against a real kube-apiserver with the Knative CRDs
 * (support/cluster.ts): the API server takes the skill folders' ConfigMaps and the agent's projected volume as
 * rendered, a changed file configures the ConfigMap and rolls the agent's template, and a skill no instance names any
 * more is pruned with its volume.
 */
const testCluster = useTestCluster();
let cluster: TestCluster;
beforeEach(() => {
  cluster = testCluster();
});

// biome-ignore lint/suspicious/noExplicitAny: objects as the API server returns them.
type Json = any;
const quiet = { out: () => {}, progress: () => {}, wait: false } as const;

function platformFile(namespace: string, skills: string[]): string {
  const config = minimalConfig();
  config.skillFolders = ["./skills"];
  config.instances = { ops: { model: "demo/echo", skills } };
  return configFile(config, namespace);
}

function writeSkill(configPath: string, api: string): void {
  const folder = join(dirname(configPath), "skills", "weather");
  mkdirSync(join(folder, "references"), { recursive: true });
  mkdirSync(join(folder, "scripts"), { recursive: true });
  writeFileSync(
    join(folder, "SKILL.md"),
    "---\nname: weather\ndescription: Forecasts\n---\nSee {baseDir}/references/api.md\n",
  );
  writeFileSync(join(folder, "references", "api.md"), api);
  writeFileSync(join(folder, "scripts", "fetch.sh"), "#!/bin/sh\necho sunny\n");
  chmodSync(join(folder, "scripts", "fetch.sh"), 0o755);
}

const renderedOf = (path: string, kind: string, name: string) =>
  render(loadConfig(path)).find((o) => o.kind === kind && o.metadata.name === name) as RenderedObject & Json;

async function read(apiVersion: string, kind: string, name: string, namespace: string): Promise<Json> {
  return cluster.api.read({ apiVersion, kind, metadata: { name, namespace } });
}

describe("knclaw deploy with skill folders", () => {
  it("stores the ConfigMaps and the agent's volume as rendered, rolls the agent on a change, prunes what is unused", async () => {
    const namespace = freshName("skillfolders");
    const path = platformFile(namespace, ["time", "weather"]);
    writeSkill(path, "# The API\n");
    const first = await runDeploy({ config: path, cluster, ...quiet });
    expect(first.applied.find((r) => r.object === `ConfigMap/${namespace}/skill-folder-weather`)?.action).toBe(
      "created",
    );

    const expected = renderedOf(path, "ConfigMap", "skill-folder-weather");
    const stored = await read("v1", "ConfigMap", "skill-folder-weather", namespace);
    expect(stored.data).toEqual(expected.data);
    expect(stored.metadata.annotations["knclaw.dev/content-hash"]).toBe(
      expected.metadata.annotations["knclaw.dev/content-hash"],
    );
    expect(stored.metadata.labels).toMatchObject({
      [LABEL_MANAGED_BY]: "knclaw",
      [LABEL_PLATFORM]: platformId(loadConfig(path)),
      "knclaw.dev/component": "skill-folder",
    });
    const agent = await read("serving.knative.dev/v1", "Service", "agent-ops", namespace);
    const renderedAgent = renderedOf(path, "Service", "agent-ops");
    expect(agent.spec.template.spec.volumes).toEqual(renderedAgent.spec.template.spec.volumes);
    expect(agent.spec.template.spec.containers[0].volumeMounts).toEqual([
      { name: "knclaw-skill-folders", mountPath: "/var/run/knclaw/skill-folders", readOnly: true },
    ]);
    const hash = agent.spec.template.metadata.annotations["knclaw.dev/skill-folders-hash"];

    const again = await runDeploy({ config: path, cluster, ...quiet });
    expect(again.applied.filter((r) => r.action !== "unchanged")).toEqual([]);

    writeSkill(path, "# The API, version 2\n");
    const changed = await runDeploy({ config: path, cluster, ...quiet });
    expect(
      changed.applied
        .filter((r) => r.action !== "unchanged")
        .map((r) => `${r.object} ${r.action}`)
        .sort(),
    ).toEqual([
      `ConfigMap/${namespace}/skill-folder-weather configured`,
      `Service.serving/${namespace}/agent-ops configured`,
    ]);
    const rolled = await read("serving.knative.dev/v1", "Service", "agent-ops", namespace);
    expect(rolled.spec.template.metadata.annotations["knclaw.dev/skill-folders-hash"]).not.toBe(hash);
    expect((await read("v1", "ConfigMap", "skill-folder-weather", namespace)).data).toEqual(
      renderedOf(path, "ConfigMap", "skill-folder-weather").data,
    );

    const without = platformFile(namespace, ["time"]);
    const pruned = await runDeploy({ config: without, cluster, ...quiet });
    expect(pruned.pruned).toEqual([`ConfigMap/${namespace}/skill-folder-weather`]);
    const bare = await read("serving.knative.dev/v1", "Service", "agent-ops", namespace);
    expect(bare.spec.template.spec.volumes).toBeUndefined();
  });
});
