import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { runSkillsList } from "../../../cli/commands/skills.ts";
import { loadAgentConfig } from "../../../functions/agent/config.ts";
import { EffectiveContract } from "../../../functions/agent/policy/contract.ts";
import { gateCall } from "../../../functions/agent/policy/gate.ts";
import { createSkillResolver } from "../../../functions/agent/skills.ts";
import { ToolCatalog } from "../../../functions/agent/tools/catalog.ts";
import { loadConfig, validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { layers, platformWith } from "./fixtures.ts";
import { startAgent } from "./support/start-agent.ts";

/** Gating enforced where the agent runs (issue 16): an unmet skill is not offered, and its calls are refused. */
const fixtures = new URL("../../skills/openclaw-fixtures/", import.meta.url).pathname;
const base = { KNCLAW_INSTANCE: "ops", KNCLAW_MODEL: "openai/gpt-4o" };

describe("skills from the configured skill folders", () => {
  const folders = [fixtures, join(fixtures, "clawhub"), join(fixtures, "workspace")];
  const load = (env: Record<string, string | undefined>, hasBin: (bin: string) => boolean = () => false) =>
    loadAgentConfig(
      { ...base, KNCLAW_SKILLS: JSON.stringify(["weather", "notes", "activecampaign", "release-notes", "broken"]) },
      createSkillResolver(folders, { env, platform: "linux", hasBin }),
    );

  it("are described from the folders, the highest-precedence copy winning, unmet or hidden ones withheld", async () => {
    const config = await load({});
    const byName = new Map(config.skills.map((skill) => [skill.name, skill]));
    expect(byName.get("weather")?.instructions).toBe("# Weather (workspace copy)");
    expect(byName.get("weather")?.withheld).toBeUndefined();
    expect(byName.get("notes")?.withheld).toBeUndefined();
    expect(byName.get("activecampaign")?.withheld).toBe(
      "the skill's requirements are not met here: bin activecampaign, env ACTIVECAMPAIGN_URL, env ACTIVECAMPAIGN_API_KEY",
    );
    expect(byName.get("release-notes")?.withheld).toBe("the skill says disable-model-invocation");
    expect(config.unavailableSkills).toEqual([{ skill: "broken", reason: expect.stringMatching(/no description/) }]);

    const catalog = new ToolCatalog(config.skills);
    expect(catalog.instructions.map((entry) => entry.skill).sort()).toEqual(["notes", "weather"]);
  });

  it("offers a gated skill once its binary and environment are there", async () => {
    const config = await load(
      { ACTIVECAMPAIGN_URL: "u", ACTIVECAMPAIGN_API_KEY: "k" },
      (bin) => bin === "activecampaign",
    );
    const skill = config.skills.find((entry) => entry.name === "activecampaign");
    expect(skill?.withheld).toBeUndefined();
    expect(new ToolCatalog(config.skills).instructions.map((entry) => entry.skill)).toContain("activecampaign");
  });
});

describe("the agent app", () => {
  it("reads its skill folders at start and logs each skill it does not offer, with the reason", async () => {
    const { lines } = await startAgent({
      KNCLAW_SKILLS: JSON.stringify(["weather", "activecampaign"]),
      KNCLAW_SKILL_FOLDERS: JSON.stringify([fixtures, join(fixtures, "workspace")]),
      KNCLAW_CONFIG_PATHS_SET: JSON.stringify([]),
    });
    expect(lines).toContainEqual(
      expect.objectContaining({
        skill: "activecampaign",
        reason: expect.stringMatching(/^the skill's requirements are not met here: bin activecampaign/),
        msg: "skill not offered",
      }),
    );
    expect(lines.filter((line) => line.skill === "weather")).toEqual([]);
  });
});

describe("a withheld skill's tools", () => {
  it("are not offered to the model, and a call to one is refused as Unavailable with the reason", () => {
    const tool = {
      name: "list",
      description: "List",
      inputSchema: { type: "object" },
      mutates: false,
      approval: false,
      groups: [],
    };
    const catalog = new ToolCatalog([
      {
        name: "gh",
        tools: [tool],
        instructions: "Use gh.",
        withheld: "the skill's requirements are not met here: bin gh",
      },
      { name: "ok", tools: [tool] },
    ]);
    expect(catalog.modelTools().map((t) => t.name)).toEqual(["ok__list"]);
    expect(catalog.instructions).toEqual([]);
    const verdict = gateCall(
      { id: "c1", name: "gh__list", arguments: "{}" },
      catalog,
      new EffectiveContract(layers({})),
    );
    expect(verdict).toMatchObject({
      kind: "refuse",
      error: {
        class: "Unavailable",
        message: "gh.list is unavailable: the skill's requirements are not met here: bin gh",
      },
    });
  });
});

describe("skillFolders in knclaw.yaml", () => {
  const platform = (extra: Record<string, unknown>) => platformWith({ skills: ["weather"] }, extra);

  it("lets an instance name a folder skill, and gives the agent the folders under knclaw dev", () => {
    expect(() => validateConfigValue(platform({}))).toThrow(/no skill named "weather" in skills \(or set skillFolders/);
    const objects = render(validateConfigValue(platform({ skillFolders: ["./skills-extra", "/srv/skills"] })), {
      skillFolders: "local",
    });
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-ops") as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    const env = service.spec.template.spec.containers[0]!.env;
    expect(JSON.parse(env.find((e) => e.name === "KNCLAW_SKILL_FOLDERS")!.value!)).toEqual([
      "./skills-extra",
      "/srv/skills",
    ]);
  });

  it("reads skillFolders relative to knclaw.yaml, and knclaw skills list -c lists them with config gating", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-config-"));
    try {
      mkdirSync(join(dir, "extra", "weather"), { recursive: true });
      writeFileSync(
        join(dir, "extra", "weather", "SKILL.md"),
        '---\nname: weather\ndescription: d\nmetadata: {"openclaw": {"requires": {"config": ["gateway.enabled"]}}}\n---\n',
      );
      const file = join(dir, "knclaw.yaml");
      writeFileSync(file, stringify(platform({ skillFolders: ["./extra"] })));
      expect(loadConfig(file).skillFolders).toEqual([join(dir, "extra")]);
      const listed = await runSkillsList({ config: file, env: {} });
      expect(listed.skills.find((skill) => skill.name === "weather")?.unmet).toEqual(["config gateway.enabled"]);
      writeFileSync(file, stringify(platform({ skillFolders: ["./extra"], gateway: { enabled: true } })));
      const enabled = await runSkillsList({ config: file, env: {} });
      expect(enabled.skills.find((skill) => skill.name === "weather")?.unmet).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tells the agent which of its folder skills' requires.config paths knclaw.yaml sets", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-skill-folders-"));
    try {
      mkdirSync(join(dir, "weather"));
      writeFileSync(
        join(dir, "weather", "SKILL.md"),
        '---\nname: weather\ndescription: d\nmetadata: {"openclaw": {"requires": {"config": ["broker.name", "gateway.enabled"]}}}\n---\nbody\n',
      );
      const objects = render(validateConfigValue(platform({ skillFolders: [dir] })));
      const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-ops") as unknown as {
        spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
      };
      const env = Object.fromEntries(service.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
      expect(JSON.parse(env.KNCLAW_CONFIG_PATHS_SET!)).toEqual(["broker.name"]);
      const set = new Set<string>(JSON.parse(env.KNCLAW_CONFIG_PATHS_SET!));
      const config = await loadAgentConfig(
        { ...base, KNCLAW_SKILLS: JSON.stringify(["weather"]) },
        createSkillResolver([dir], { env: {}, platform: "linux", hasConfig: (path) => set.has(path) }),
      );
      expect(config.skills[0]?.withheld).toBe("the skill's requirements are not met here: config gateway.enabled");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
