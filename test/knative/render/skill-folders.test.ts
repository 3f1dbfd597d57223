import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { runValidate } from "../../../cli/commands/validate.ts";
import { loadAgentConfig } from "../../../functions/agent/config.ts";
import { createSkillResolver } from "../../../functions/agent/skills.ts";
import { ConfigError, validateConfigValue } from "../../../knative/config/index.ts";
import { manifestFiles, type RenderedObject, render } from "../../../knative/render/index.ts";
import { SKILL_FOLDERS_MOUNT, skillFolderWarnings } from "../../../knative/render/skill-folders.ts";
import { validateObjects } from "../../../knative/validate/index.ts";
import { minimalConfig } from "../fixtures.ts";

/**
 * Config `skillFolders` on a cluster: each folder skill an instance names becomes a ConfigMap, mounted read-only into
 * its agent, and the agent loads the skills from the files the kubelet projects from it.
 */
// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain Kubernetes JSON.
type Json = any;
const find = (objects: RenderedObject[], kind: string, name: string): Json =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const envOf = (ksvc: Json): Record<string, string> =>
  Object.fromEntries(ksvc.spec.template.spec.containers[0].env.map((e: Json) => [e.name, e.value]));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "knclaw-skill-folders-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), content);
}

/** Two folders: `base` has an older weather; `team` wins with a weather of several files, and has notes and unused. */
function folders(): string[] {
  write("base/weather/SKILL.md", "---\nname: weather\ndescription: old\n---\nOld weather.\n");
  write(
    "team/weather/SKILL.md",
    "---\nname: weather\ndescription: Forecasts\n---\nRead {baseDir}/references/api.md, run {baseDir}/scripts/fetch.sh.\n",
  );
  write("team/weather/references/api.md", "# The API\n\nGET /forecast — ünïcode kept\n");
  write("team/weather/scripts/fetch.sh", "#!/bin/sh\necho sunny\n");
  chmodSync(join(dir, "team/weather/scripts/fetch.sh"), 0o755);
  write("team/weather/icon.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0xff]));
  write("team/weather/.env", "TOKEN=not-for-the-cluster\n");
  symlinkSync("/etc/hostname", join(dir, "team/weather/host"));
  write("team/notes/SKILL.md", "---\nname: notes\ndescription: Notes\n---\nTake notes.\n");
  write("team/unused/SKILL.md", "---\nname: unused\ndescription: Nobody names it\n---\n");
  return [join(dir, "base"), join(dir, "team")];
}

function platform(skillFolders: string[]) {
  const config = minimalConfig();
  config.skillFolders = skillFolders;
  config.instances = {
    ops: { model: "demo/echo", skills: ["time", "weather"] },
    helper: { model: "demo/echo", skills: ["notes", "missing"] },
  };
  return validateConfigValue(config);
}

/** Writes the files of a pod's projected volume as the kubelet does: each item's path, its ConfigMap value, its mode. */
function projectVolume(objects: RenderedObject[], ksvc: Json, root: string): void {
  for (const volume of ksvc.spec.template.spec.volumes) {
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap === undefined) continue;
      const data = find(objects, "ConfigMap", source.configMap.name).data as Record<string, string>;
      for (const item of source.configMap.items) {
        const path = join(root, item.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, data[item.key]!, { mode: item.mode ?? 0o644 });
      }
    }
  }
}

describe("skill folders rendered for a cluster", () => {
  it("pack each folder skill an instance names into a labelled ConfigMap with a content hash", () => {
    const objects = render(platform(folders()));
    const configMaps = objects.filter((o) => o.metadata.name.startsWith("skill-folder-"));
    expect(configMaps.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ConfigMap/skill-folder-notes",
      "ConfigMap/skill-folder-weather",
    ]);
    const weather = find(objects, "ConfigMap", "skill-folder-weather");
    expect(weather.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "knclaw",
      "app.kubernetes.io/part-of": "knclaw",
      "knclaw.dev/component": "skill-folder",
    });
    expect(weather.metadata.annotations["knclaw.dev/content-hash"]).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The winning (later) folder's copy, its text files under flat keys; binary, hidden and linked files left out.
    expect(Object.keys(weather.data).sort()).toEqual([
      "SKILL.md",
      expect.stringMatching(/^references_api\.md-[0-9a-f]{12}$/),
      expect.stringMatching(/^scripts_fetch\.sh-[0-9a-f]{12}$/),
    ]);
    expect(weather.data["SKILL.md"]).toContain("description: Forecasts");
    expect(JSON.parse(weather.metadata.annotations["knclaw.dev/skipped-files"])).toEqual([
      { path: ".env", reason: "hidden" },
      { path: "host", reason: "a symbolic link (not followed)" },
      { path: "icon.png", reason: "not UTF-8 text" },
    ]);
    const problems = validateObjects(objects, { checkReferences: true, hardening: true });
    expect(problems.filter((p) => p.severity === "error")).toEqual([]);
    // An agent whose ConfigMap is not applied with it would never start.
    const withoutNotes = objects.filter((o) => o.metadata.name !== "skill-folder-notes");
    expect(
      validateObjects(withoutNotes, { checkReferences: true }).filter((p) => p.rule === "reference"),
    ).toMatchObject([
      {
        object: "Service/knclaw/agent-helper",
        path: "spec.template.spec.volumes[0].projected.sources[0].configMap.name",
        message: "ConfigMap skill-folder-notes is not among the objects",
      },
    ]);
    // `knclaw render -o DIR`: in a file of their own, applied before the agents that mount them.
    const files = manifestFiles(objects).map((file) => file.path);
    expect(files.slice(0, 3)).toEqual(["00-platform.yaml", "05-skill-folders.yaml", "10-agent-helper.yaml"]);
    const file = manifestFiles(objects).find((f) => f.path === "05-skill-folders.yaml")!;
    expect(parseAllDocuments(file.content).map((doc) => doc.toJS().metadata.name)).toEqual([
      "skill-folder-notes",
      "skill-folder-weather",
    ]);
  });

  it("mount an instance's own skills read-only into its agent and point KNCLAW_SKILL_FOLDERS there", () => {
    const objects = render(platform(folders()));
    const ops = find(objects, "Service", "agent-ops");
    const pod = ops.spec.template.spec;
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: "knclaw-skill-folders", mountPath: SKILL_FOLDERS_MOUNT, readOnly: true },
    ]);
    expect(pod.volumes).toHaveLength(1);
    const sources = pod.volumes[0].projected.sources;
    expect(sources.map((s: Json) => s.configMap.name)).toEqual(["skill-folder-weather"]);
    expect(sources[0].configMap.items.map((i: Json) => [i.path, i.mode])).toEqual([
      ["weather/SKILL.md", undefined],
      ["weather/references/api.md", undefined],
      ["weather/scripts/fetch.sh", 0o755],
    ]);
    expect(JSON.parse(envOf(ops).KNCLAW_SKILL_FOLDERS!)).toEqual([SKILL_FOLDERS_MOUNT]);
    expect(ops.spec.template.metadata.annotations["knclaw.dev/skill-folders-hash"]).toMatch(/^sha256:/);
    const helper = find(objects, "Service", "agent-helper");
    expect(helper.spec.template.spec.volumes[0].projected.sources.map((s: Json) => s.configMap.name)).toEqual([
      "skill-folder-notes",
    ]);
    // No instance without folder skills mounts anything.
    expect(find(objects, "Service", "skill-time").spec.template.spec.volumes).toBeUndefined();
  });

  it("roll the agent when a file of its skills changes, and only then", () => {
    const roots = folders();
    const hashOf = () => {
      const objects = render(platform(roots));
      return [
        find(objects, "Service", "agent-ops").spec.template.metadata.annotations["knclaw.dev/skill-folders-hash"],
        find(objects, "Service", "agent-helper").spec.template.metadata.annotations["knclaw.dev/skill-folders-hash"],
      ];
    };
    const before = hashOf();
    expect(hashOf()).toEqual(before);
    write("team/weather/references/api.md", "# The API, v2\n");
    const after = hashOf();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).toBe(before[1]);
  });

  it("load in the agent from the files the kubelet projects, as from the folder itself", async () => {
    const roots = folders();
    const objects = render(platform(roots));
    const ops = find(objects, "Service", "agent-ops");
    const mount = join(dir, "pod");
    projectVolume(objects, ops, mount);
    expect(readFileSync(join(mount, "weather/references/api.md"), "utf8")).toBe(
      readFileSync(join(dir, "team/weather/references/api.md"), "utf8"),
    );
    expect(statSync(join(mount, "weather/scripts/fetch.sh")).mode & 0o777).toBe(0o755);

    const env = envOf(ops);
    const probe = { env: {}, platform: "linux" as const, hasBin: () => false };
    const inPod = await loadAgentConfig(
      { KNCLAW_INSTANCE: "ops", KNCLAW_MODEL: "openai/gpt-4o", KNCLAW_SKILLS: JSON.stringify(["weather"]) },
      createSkillResolver(
        (JSON.parse(env.KNCLAW_SKILL_FOLDERS!) as string[]).map((path) => path.replace(SKILL_FOLDERS_MOUNT, mount)),
        probe,
      ),
    );
    const local = await loadAgentConfig(
      { KNCLAW_INSTANCE: "ops", KNCLAW_MODEL: "openai/gpt-4o", KNCLAW_SKILLS: JSON.stringify(["weather"]) },
      createSkillResolver(roots, probe),
    );
    expect(inPod.unavailableSkills).toEqual([]);
    expect(inPod.skills[0]?.instructions).toBe(
      `Read ${mount}/weather/references/api.md, run ${mount}/weather/scripts/fetch.sh.`,
    );
    expect(inPod.skills[0]?.instructions).toBe(
      local.skills[0]?.instructions?.replaceAll(join(dir, "team", "weather"), join(mount, "weather")),
    );
  });

  it("under knclaw dev read the folders in place: no ConfigMap, no volume", () => {
    const roots = folders();
    const objects = render(platform(roots), { skillFolders: "local" });
    expect(objects.filter((o) => o.kind === "ConfigMap")).toEqual([]);
    const ops = find(objects, "Service", "agent-ops");
    expect(ops.spec.template.spec.volumes).toBeUndefined();
    expect(JSON.parse(envOf(ops).KNCLAW_SKILL_FOLDERS!)).toEqual(roots);
  });

  it("refuse a skill folder a ConfigMap cannot hold, naming it", () => {
    write("big/weather/SKILL.md", "---\nname: weather\ndescription: d\n---\n");
    write("big/weather/data.txt", "x".repeat(1024 * 1024 + 1));
    const many = () => render(platform([join(dir, "big")]));
    expect(many).toThrow(ConfigError);
    expect(many).toThrow(
      /skill-folder-size: skill weather \(.*big\/weather\) does not fit .* data\.txt alone is 1048577/,
    );
    rmSync(join(dir, "big/weather/data.txt"));
    for (const part of ["a", "b", "c"]) write(`big/weather/part-${part}.md`, "y".repeat(400 * 1024));
    expect(many).toThrow(/does not fit the 1 MiB \(1048576 bytes\) a ConfigMap holds: its text files pass 1048576/);
  });

  it("are what knclaw validate warns about: files left out, skills no folder has", () => {
    const warnings = skillFolderWarnings(platform(folders()));
    expect(warnings.map((w) => `${w.path}: ${w.rule}: ${w.message}`)).toEqual([
      "skillFolders: skill-folder-file: skill weather: .env is not packed into ConfigMap skill-folder-weather: hidden",
      "skillFolders: skill-folder-file: skill weather: host is not packed into ConfigMap skill-folder-weather: a symbolic link (not followed)",
      "skillFolders: skill-folder-file: skill weather: icon.png is not packed into ConfigMap skill-folder-weather: not UTF-8 text",
      "instances.helper.skills[1]: skill-folder-missing: no configured skill folder has a skill named missing: the agent will report it unavailable",
    ]);
  });
});

describe("knclaw validate with skill folders", () => {
  it("says which files stay behind, and refuses a folder a ConfigMap cannot hold as a config error", () => {
    folders();
    const config = minimalConfig();
    config.skillFolders = ["./base", "./team"];
    config.instances = { ops: { model: "demo/echo", skills: ["time", "weather"] } };
    const file = join(dir, "knclaw.yaml");
    writeFileSync(file, stringify(config));
    const report = runValidate({ config: file });
    expect(report.ok).toBe(true);
    expect(report.objectProblems.filter((p) => p.severity === "error")).toEqual([]);
    expect(report.configWarnings.filter((w) => w.rule === "skill-folder-file").map((w) => w.message)).toEqual([
      "skill weather: .env is not packed into ConfigMap skill-folder-weather: hidden",
      "skill weather: host is not packed into ConfigMap skill-folder-weather: a symbolic link (not followed)",
      "skill weather: icon.png is not packed into ConfigMap skill-folder-weather: not UTF-8 text",
    ]);
    expect(runValidate({ config: file, strict: true }).ok).toBe(false);

    write("team/weather/data.json", "1".repeat(1024 * 1024));
    const refused = runValidate({ config: file });
    expect(refused.ok).toBe(false);
    expect(refused.configErrors).toEqual([
      expect.objectContaining({ path: "skillFolders", rule: "skill-folder-size" }),
    ]);
  });
});

describe("a ConfigMap against the API server's rules", () => {
  const configMap = (data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "n" },
    data,
  });
  const problems = (data: Record<string, string>) =>
    validateObjects([configMap(data)]).map((p) => `${p.severity} ${p.path}: ${p.rule}: ${p.message}`);

  it("refuses keys with a slash and data over 1 MiB, warns past what client-side apply can carry and of credentials", () => {
    expect(problems({ "a/b": "x", "..c": "y" })).toEqual([
      "error data[a/b]: config-map-key: a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
      "error data[..c]: config-map-key: must not start with '..'",
    ]);
    expect(problems({ big: "z".repeat(1024 * 1024) })).toEqual([
      "error data: config-map-size: 1048579 bytes: a ConfigMap holds at most 1048576 bytes (1 MiB)",
    ]);
    expect(problems({ mid: "z".repeat(300 * 1024) })).toEqual([
      expect.stringMatching(/^warning data: config-map-size: 307203 bytes: too large for kubectl's client-side apply/),
    ]);
    expect(problems({ "SKILL.md": "fine" })).toEqual([]);
    expect(problems({ "notes.md": `token: ghp_${"a".repeat(36)}` })).toEqual([
      "warning data[notes.md]: no-literal-secrets: looks like it holds a GitHub token: keep it in a Secret",
    ]);
  });
});
