import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatSkillsList, runSkillsList } from "../../cli/commands/skills.ts";
import { binaryOnPath, checkGating, configPathSet } from "../../skills/package/gating.ts";
import { discoverSkills, loadSkillFolder } from "../../skills/package/loader.ts";

/** OpenClaw-compatible loading (issue 16): each behaviour on a fixture copied from a public skill (see SOURCES.md). */
const fixtures = new URL("./openclaw-fixtures/", import.meta.url).pathname;
const load = (name: string) => loadSkillFolder(join(fixtures, name), { code: false });

describe("frontmatter that is not strict YAML is read as key: value lines, as OpenClaw reads it", () => {
  it("an unquoted ': ' in a description", async () => {
    const skill = await load("colon-description");
    expect(skill.name).toBe("genlayer-dev-claw-skill");
    expect(skill.description).toMatch(
      /^Build GenLayer .*Triggers: write intelligent contract, genlayer contract, genvm$/,
    );
    expect(skill.warnings.join()).toMatch(/not strict YAML.*read as key: value lines/);
  });

  it("a bracketed argument hint", async () => {
    const skill = await load("argument-hint");
    expect(skill.description).toMatch(/^Submit a leave request through Feishu/);
    expect(skill.doc.frontmatter["argument-hint"]).toBe("[date] [duration] [type] [reason]");
  });

  it("a metadata JSON missing a brace loads the skill ungated, with a warning", async () => {
    const skill = await load("broken-metadata");
    expect(skill.name).toBe("google-home");
    expect(skill.doc.gating).toBeUndefined();
    expect(skill.warnings.join()).toMatch(/metadata is not a JSON5 object/);
  });
});

describe("gating", () => {
  it("a malformed field (primaryEnv as a list) drops that field only: the skill stays gated by the rest", async () => {
    const skill = await load("primary-env-list");
    expect(skill.doc.gating?.primaryEnv).toBeUndefined();
    expect(skill.doc.gating?.requires).toEqual({
      bins: ["activecampaign"],
      anyBins: [],
      env: ["ACTIVECAMPAIGN_URL", "ACTIVECAMPAIGN_API_KEY"],
      config: [],
    });
    expect(skill.warnings.join()).toMatch(/primaryEnv is malformed/);
    expect(checkGating(skill.doc.gating, { env: {}, platform: "linux" }).eligible).toBe(false);
  });

  it("primaryEnv: null and a comma-separated env list, as OpenClaw reads lists", async () => {
    const { parseSkillDoc } = await import("../../skills/package/skill-doc.ts");
    const doc = parseSkillDoc(
      '---\nname: x\ndescription: d\nmetadata: {"openclaw": {"primaryEnv": null, "requires": {"env": "A, B"}}}\n---\n',
    );
    expect(doc.gating?.requires?.env).toEqual(["A", "B"]);
    expect(checkGating(doc.gating, { env: { A: "1", B: "2" }, platform: "linux" }).eligible).toBe(true);
  });

  describe("requires.bins is looked up on PATH", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-bins-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("an executable file counts, a plain file or a path does not", () => {
      writeFileSync(join(dir, "activecampaign"), "#!/bin/sh\n");
      chmodSync(join(dir, "activecampaign"), 0o755);
      writeFileSync(join(dir, "notexec"), "");
      expect(binaryOnPath("activecampaign", `/nonexistent:${dir}`)).toBe(true);
      expect(binaryOnPath("notexec", dir)).toBe(false);
      expect(binaryOnPath("../bin/activecampaign", dir)).toBe(false);
      expect(binaryOnPath("activecampaign", undefined)).toBe(false);
    });

    it("so a skill whose binary is installed is eligible once its env is set", async () => {
      const skill = await load("primary-env-list");
      const probe = {
        env: { ACTIVECAMPAIGN_URL: "u", ACTIVECAMPAIGN_API_KEY: "k" },
        platform: "linux",
        hasBin: (bin: string) => binaryOnPath(bin, dir),
      };
      expect(checkGating(skill.doc.gating, probe)).toEqual({ eligible: true, missing: [] });
    });
  });

  it("requires.config is checked against the config it is given", async () => {
    const skill = await load("needs-config");
    const config = { browser: { enabled: true }, off: { enabled: false } };
    expect(configPathSet(config, "browser.enabled")).toBe(true);
    expect(configPathSet(config, "off.enabled")).toBe(false);
    expect(configPathSet(config, "browser.missing")).toBe(false);
    expect(configPathSet(config, "browser")).toBe(true);
    const probe = (c: unknown) => ({ env: {}, platform: "linux", hasConfig: (p: string) => configPathSet(c, p) });
    expect(checkGating(skill.doc.gating, probe(config)).eligible).toBe(true);
    expect(checkGating(skill.doc.gating, probe({})).missing).toEqual(["config browser.enabled"]);
  });

  it("os is a hard filter that always does not override", async () => {
    const gating = { os: ["darwin"], always: true };
    expect(checkGating(gating, { env: {}, platform: "linux" }).missing).toEqual(["os darwin"]);
    expect(
      checkGating(
        { always: true, requires: { bins: ["x"], anyBins: [], env: [], config: [] } },
        {
          env: {},
          platform: "linux",
        },
      ).eligible,
    ).toBe(true);
  });
});

describe("names, instructions and flags", () => {
  it("a display name with spaces loads, with a warning", async () => {
    const skill = await load("display-name");
    expect(skill.name).toBe("Job Search MCP");
    expect(skill.warnings.join()).toMatch(/display name/);
  });

  it("{baseDir} becomes the skill's folder", async () => {
    const skill = await load("base-dir");
    expect(skill.instructions).toContain(`uv run ${join(fixtures, "base-dir")}/scripts/ercdata-cli.py store`);
    expect(skill.instructions).not.toContain("{baseDir}");
  });

  it("disable-model-invocation, user-invocable and install are read", async () => {
    const skill = await load("hidden");
    expect(skill.doc.invocation).toEqual({ userInvocable: false, disableModelInvocation: true });
    expect(skill.doc.gating?.install).toEqual([
      { id: "brew", kind: "brew", formula: "gh", bins: ["gh"], label: "Install GitHub CLI (brew)" },
    ]);
  });
});

describe("discovery", () => {
  it("searches owner/slug trees, and a later root's skill replaces an earlier one of the same name", async () => {
    const grouped = await discoverSkills([join(fixtures, "clawhub")], { code: false });
    expect(grouped.skills.map((s) => s.name)).toEqual(["notes", "weather"]);
    const both = await discoverSkills([join(fixtures, "clawhub"), join(fixtures, "workspace")], { code: false });
    expect(both.failures).toEqual([]);
    const weather = both.skills.find((s) => s.name === "weather");
    expect(weather?.description).toBe("The workspace's own weather skill.");
    expect(both.overridden).toEqual([
      { name: "weather", dir: join(fixtures, "clawhub/steipete/weather"), by: join(fixtures, "workspace/weather") },
    ]);
  });

  it("one broken folder is reported and the others still load", async () => {
    const found = await discoverSkills([fixtures], { code: false });
    expect(found.failures).toEqual([
      { dir: join(fixtures, "broken"), message: expect.stringMatching(/no description/) },
    ]);
    expect(found.skills.map((s) => s.name)).toContain("Job Search MCP");
  });

  it("knclaw skills list lists the rest, marks unmet and hidden skills, and reports the broken folder", async () => {
    const result = await runSkillsList({ dirs: [fixtures], env: { PATH: "" } });
    expect(result.failures.map((f) => f.dir)).toEqual([join(fixtures, "broken")]);
    const byName = new Map(result.skills.map((s) => [s.name, s]));
    expect(byName.get("activecampaign")?.unmet).toEqual([
      "bin activecampaign",
      "env ACTIVECAMPAIGN_URL",
      "env ACTIVECAMPAIGN_API_KEY",
    ]);
    expect(byName.get("wolt-orders")?.unmet).toEqual(["config browser.enabled"]);
    expect(byName.get("release-notes")).toMatchObject({
      hiddenFromModel: true,
      notUserInvocable: true,
      installers: ["brew gh"],
    });
    const text = formatSkillsList(result);
    expect(text).toMatch(
      /not offered to the model \(disable-model-invocation\)\n {2}not user-invocable\n {2}install hints \(knclaw runs none\): brew gh/,
    );
    expect(text).toMatch(/failed to load .*broken: .*no description/);
  });
});
