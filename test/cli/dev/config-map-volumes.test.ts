import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigMapVolumes } from "../../../cli/dev/config-map-volumes.ts";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { generateSigningKey } from "../../../runtime/keys.ts";
import type { Served } from "../../../runtime/serve.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import {
  sendSlackMessage,
  startToolPlatform,
  startToolSkills,
  toolPlatformObjects,
} from "../../functions/agent/support/dev-skills.ts";
import { type Subscriber, startSubscriber } from "../../support/dev-platform.ts";

/**
 * knclaw dev runs a Knative Service's ConfigMap volumes as the kubelet would project them, in a directory of its own,
 * with the container paths of its environment pointing there: a platform rendered for a cluster (its agents' skill
 * folders as ConfigMaps) runs locally with its folder skills.
 */
const warnings: unknown[] = [];
const log = {
  debug() {},
  info() {},
  warn: (fields: unknown) => warnings.push(fields),
  error() {},
};

function service(volumes: unknown[], mounts: unknown[]): KnativeObject {
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: { name: "fn", namespace: "ns" },
    spec: { template: { spec: { volumes, containers: [{ image: "x", volumeMounts: mounts }] } } },
  };
}

describe("ConfigMap volumes under knclaw dev", () => {
  let volumes: ConfigMapVolumes;
  beforeEach(() => {
    warnings.length = 0;
    volumes = new ConfigMapVolumes(log as never);
  });
  afterEach(() => volumes.close());

  it("projects every key of a configMap volume with its defaultMode, and rewrites paths under the mount only", () => {
    const configMaps = new Map([["ns/settings", { "a.json": "{}", "run.sh": "#!/bin/sh\n" }]]);
    const env = {
      A: "/etc/settings/a.json",
      B: '["/etc/settings"]',
      C: "/etc/settings-other/a.json",
      D: "unrelated",
    };
    volumes.apply(
      service(
        [{ name: "s", configMap: { name: "settings", defaultMode: 0o750 } }],
        [{ name: "s", mountPath: "/etc/settings", readOnly: true }],
      ),
      configMaps,
      env,
    );
    expect(env.C).toBe("/etc/settings-other/a.json");
    expect(env.D).toBe("unrelated");
    expect(readFileSync(env.A, "utf8")).toBe("{}");
    const [dir] = JSON.parse(env.B) as string[];
    expect(readFileSync(join(dir!, "run.sh"), "utf8")).toBe("#!/bin/sh\n");
    expect(statSync(join(dir!, "run.sh")).mode & 0o777).toBe(0o750);
  });

  it("leaves out a volume whose ConfigMap is not among the objects, and one with other sources", () => {
    const env = { A: "/m/x", B: "/t/token" };
    volumes.apply(
      service(
        [
          { name: "m", projected: { sources: [{ configMap: { name: "absent" } }] } },
          { name: "t", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
        ],
        [
          { name: "m", mountPath: "/m" },
          { name: "t", mountPath: "/t" },
        ],
      ),
      new Map(),
      env,
    );
    expect(env).toEqual({ A: "/m/x", B: "/t/token" });
    expect(warnings).toEqual([expect.objectContaining({ volume: "m", missing: ["absent"] })]);
  });

  it("refuses an item path that leaves its volume", () => {
    const configMaps = new Map([["ns/c", { k: "v" }]]);
    const escaping = service(
      [{ name: "c", configMap: { name: "c", items: [{ key: "k", path: "../../outside" }] } }],
      [{ name: "c", mountPath: "/c" }],
    );
    expect(() => volumes.apply(escaping, configMaps, {})).toThrow(/item path \.\.\/\.\.\/outside leaves its volume/);
  });
});

describe("a platform rendered for a cluster, on knclaw dev", () => {
  const keys = generateSigningKey();
  let dir: string;
  let fake: FakeOpenAI;
  let channel: Subscriber;
  let skillServers: Served[] = [];
  let runtime: DevRuntime | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "knclaw-dev-skill-folders-"));
    fake = await startFakeOpenAI({ apiKey: "not-needed" });
    fake.setResponder(() => ({ kind: "message", text: "Sunny." }));
    channel = await startSubscriber();
    skillServers = await startToolSkills(keys.publicKeyPem, {});
  });
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
    await Promise.all(skillServers.map((s) => s.shutdown()));
    await channel.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives the agent its folder skill from the ConfigMap, with {baseDir} at the projected folder", async () => {
    mkdirSync(join(dir, "weather", "references"), { recursive: true });
    writeFileSync(
      join(dir, "weather", "SKILL.md"),
      "---\nname: weather\ndescription: Forecasts\n---\nRead {baseDir}/references/api.md first.\n",
    );
    writeFileSync(join(dir, "weather", "references", "api.md"), "GET /forecast\n");
    const ops = { model: "openai-compatible/gpt-test", provider: { baseUrl: fake.url }, skills: ["weather"] };
    const objects = toolPlatformObjects(skillServers, { ops }, channel.url, [T.MESSAGE_SEND], {
      skillFolders: [dir],
    });
    expect(objects.some((o) => o.kind === "ConfigMap" && o.metadata.name === "skill-folder-weather")).toBe(true);
    runtime = await startToolPlatform(objects, keys.privateKeyPem);
    await sendSlackMessage(runtime, "ops", "weather?");
    await channel.waitUntil((r) => r.headers["ce-type"] === T.MESSAGE_SEND);

    const system = JSON.stringify((fake.requests[0]!.body.messages as Array<{ content: unknown }>)[0]!.content);
    const reference = /Read (\S+\/weather)\/references\/api\.md first\./.exec(system)?.[1];
    expect(reference).toBeDefined();
    expect(reference).not.toContain("/var/run/knclaw");
    expect(readFileSync(join(reference!, "references", "api.md"), "utf8")).toBe("GET /forecast\n");
    await runtime.shutdown();
    runtime = undefined;
    // The session's projection goes with it.
    expect(existsSync(reference!)).toBe(false);
  });
});
