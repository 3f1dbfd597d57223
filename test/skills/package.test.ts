import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { splitFrontmatter } from "../../skills/package/frontmatter.ts";
import { checkGating } from "../../skills/package/gating.ts";
import { discoverSkills, loadSkillFolder } from "../../skills/package/loader.ts";
import { SkillManifest } from "../../skills/package/manifest.ts";
import { parseSkillDoc, SkillDocError } from "../../skills/package/skill-doc.ts";
import { assembleSkill, SkillPackageError, skillDescriptor } from "../../skills/package/skill-package.ts";
import { defineTool, ToolDeclarationError, toolInputSchema } from "../../skills/package/tool.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;

describe("frontmatter", () => {
  it("splits YAML frontmatter from the body, CRLF and BOM included", () => {
    const { data, body } = splitFrontmatter("\uFEFF---\r\nname: a\r\nlist: [1, 2]\r\n---\r\nbody line\r\n");
    expect(data).toEqual({ name: "a", list: [1, 2] });
    expect(body.trim()).toBe("body line");
  });

  it("treats a document without an opening fence, or with one never closed, as all body", () => {
    expect(splitFrontmatter("# Title\n---\nname: x\n---\n")).toMatchObject({
      data: {},
      body: "# Title\n---\nname: x\n---\n",
    });
    const unclosed = splitFrontmatter("---\nname: a\nbody");
    expect(unclosed.data).toEqual({});
    expect(unclosed.warnings.join()).toMatch(/never closed/);
  });

  it("reads frontmatter that is not strict YAML line by line: duplicate keys, invalid YAML, non-mappings", () => {
    expect(splitFrontmatter("---\nname: a\nname: b\n---\n")).toMatchObject({ data: { name: "b" }, lenient: true });
    expect(splitFrontmatter("---\nname: [a\n---\n")).toMatchObject({ text: { name: "[a" }, lenient: true });
    expect(splitFrontmatter("---\n- a\n- b\n---\n")).toMatchObject({ data: {}, lenient: true });
    expect(splitFrontmatter("---\nname: a\n---\n")).toMatchObject({ data: { name: "a" }, lenient: false });
  });

  it("keeps the string view OpenClaw reads fields from", () => {
    const { text } = splitFrontmatter("---\nn: 12\nflag: true\nmeta:\n  a: 1\n  b: 2\nlist: [1, 2]\n---\n");
    expect(text).toEqual({ n: "12", flag: "true", meta: '{"a":1,"b":2}', list: "[1, 2]" });
    // OpenClaw takes a one-line nested block as the line itself (it guards against YAML misreading `a: b: c`).
    expect(splitFrontmatter("---\nmeta:\n  a: 1\n---\n").text).toEqual({ meta: "a: 1" });
  });

  it("does not instantiate custom YAML tags: their values stay data", () => {
    const { data } = splitFrontmatter("---\nx: !!js/function 'function(){}'\n---\n");
    expect(typeof data.x).toBe("string");
  });

  it("does not expand YAML alias bombs: it falls back to reading lines", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(", ")}]`,
      );
    const split = splitFrontmatter(`---\n${bomb.join("\n")}\n---\n`);
    expect(split.lenient).toBe(true);
    expect(String(split.data.m).length).toBeLessThan(200);
  });
});

describe("SKILL.md", () => {
  it("reads OpenClaw metadata written as single-line JSON and its gating", () => {
    const doc = parseSkillDoc(
      '---\nname: gh\ndescription: GitHub via gh\nmetadata: \'{"openclaw":{"requires":{"bins":["gh"],"env":"GH_TOKEN"}}}\'\n---\nUse gh.',
    );
    expect(doc.gating?.requires?.bins).toEqual(["gh"]);
    expect(doc.gating?.requires?.env).toEqual(["GH_TOKEN"]);
    expect(checkGating(doc.gating, { env: {}, platform: "linux" })).toEqual({
      eligible: false,
      missing: ["bin gh", "env GH_TOKEN"],
    });
    expect(
      checkGating(doc.gating, { env: { GH_TOKEN: "x" }, platform: "linux", hasBin: (bin) => bin === "gh" }).eligible,
    ).toBe(true);
  });

  it("accepts the clawdbot alias and os gating", () => {
    const doc = parseSkillDoc("---\nname: mac\ndescription: d\nmetadata:\n  clawdbot:\n    os: [darwin]\n---\n");
    expect(checkGating(doc.gating, { env: {}, platform: "linux" }).missing).toEqual(["os darwin"]);
  });

  it("keeps unknown frontmatter keys and warns about, but survives, malformed metadata", () => {
    const doc = parseSkillDoc(
      "---\nname: x\ndescription: d\nlicense: MIT\nallowed-tools: Read\nmetadata: 'not json'\n---\nbody",
    );
    expect(doc.frontmatter.license).toBe("MIT");
    expect(doc.frontmatter["allowed-tools"]).toBe("Read");
    expect(doc.metadata).toEqual({});
    expect(doc.warnings.join()).toMatch(/metadata/);
  });

  it("refuses names that look like paths or carry control characters, and skills without a description", () => {
    expect(() => parseSkillDoc("---\nname: ../etc\ndescription: d\n---\n")).toThrow(SkillDocError);
    expect(() => parseSkillDoc('---\nname: "a\\u0007"\ndescription: d\n---\n')).toThrow(/control/);
    expect(parseSkillDoc("---\nname: 12\ndescription: d\n---\n").name).toBe("12");
    expect(() => parseSkillDoc("no frontmatter")).toThrow(/no name/);
    expect(() => parseSkillDoc("---\nname: a\n---\nbody", "a")).toThrow(/no description/);
  });
});

describe("loading skill folders", () => {
  it("loads an OpenClaw-style folder (frontmatter + instructions, no tools) as model instructions", async () => {
    const skill = await loadSkillFolder(join(fixtures, "openclaw-todoist"));
    expect(skill.name).toBe("todoist");
    expect(skill.description).toBe("Manage tasks via the Todoist API.");
    expect(skill.instructions).toMatch(/^# Todoist\n\nWhen the user asks about their tasks/);
    expect(skill.tools).toEqual([]);
    expect(skill.manifest).toBeUndefined();
    expect(skill.doc.gating?.primaryEnv).toBe("TODOIST_API_KEY");
    expect(skill.doc.frontmatter["user-invocable"]).toBe(true);
  });

  it("refuses a SKILL.md without frontmatter: it has no description, and OpenClaw skips it too", async () => {
    await expect(loadSkillFolder(join(fixtures, "no-frontmatter"))).rejects.toThrow(/no description/);
  });

  it("loads a skill with tools: each tool's flags from its declaration, JSON Schema rendered from zod", async () => {
    const skill = await loadSkillFolder(join(fixtures, "echo"));
    expect(skill.tools.map((t) => t.name)).toEqual(["echo", "shout"]);
    const echo = skill.tools[0]!;
    expect(echo).toMatchObject({ mutates: false, approval: false, groups: ["echo:read"] });
    expect(skill.tools[1]).toMatchObject({ mutates: true, approval: true, groups: [], timeoutSeconds: 5 });
    const [echoDescribed, shoutDescribed] = skillDescriptor(skill).tools;
    expect(echoDescribed?.timeoutSeconds).toBe(30);
    expect(shoutDescribed?.timeoutSeconds).toBe(5);
    expect(echoDescribed?.inputSchema).toEqual(toolInputSchema(echo));
    expect(toolInputSchema(echo)).toMatchObject({
      type: "object",
      properties: {
        text: { type: "string", maxLength: 100 },
        times: { type: "integer", minimum: 1, maximum: 3, default: 1 },
      },
      required: ["text"],
      additionalProperties: false,
    });
    expect(skill.manifest?.egress).toEqual([{ kind: "host", host: "api.example.com", ports: [443] }]);
    expect(skill.manifest?.timeoutSeconds).toBe(30);
  });

  it("refuses a skill whose tool does not say whether it mutates", async () => {
    await expect(loadSkillFolder(join(fixtures, "missing-flags"))).rejects.toThrow(/tool one: mutates/);
  });

  it("discovers the built-in skills and reports failures per folder", async () => {
    const found = await discoverSkills([fixtures]);
    expect(found.skills.map((s) => s.name).sort()).toEqual(["echo", "todoist"]);
    expect(found.failures.map((f) => f.dir)).toEqual([
      join(fixtures, "missing-flags"),
      join(fixtures, "no-frontmatter"),
    ]);
    // A later root's skill of the same name replaces the earlier one (reported), as OpenClaw's precedence does.
    const twice = await discoverSkills([fixtures, join(fixtures, "echo")]);
    expect(twice.overridden).toEqual([{ name: "echo", dir: join(fixtures, "echo"), by: join(fixtures, "echo") }]);
    expect(twice.skills.filter((s) => s.name === "echo")).toHaveLength(1);
  });
});

describe("manifest and tools", () => {
  const doc = parseSkillDoc("---\nname: t\ndescription: d\n---\n");
  const flags = { mutates: false, approval: false };
  const tool = defineTool({ name: "a", description: "a", input: z.object({ x: z.string() }), ...flags });

  it("refuses wildcard and privilege-granting RBAC", () => {
    const base = {};
    for (const rule of [
      { apiGroups: ["*"], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["*"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["*"] },
      { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["escalate"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"], nonResourceURLs: ["/metrics"] },
    ]) {
      expect(SkillManifest.safeParse({ ...base, kubernetes: { rules: [rule] } }).success, JSON.stringify(rule)).toBe(
        false,
      );
    }
    expect(
      SkillManifest.safeParse({
        ...base,
        kubernetes: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
      }).success,
    ).toBe(true);
  });

  it("refuses tools without a manifest, duplicates, unknown manifest keys, and non-DNS names for skills with tools", () => {
    expect(() => assembleSkill(doc, undefined, [tool])).toThrow(/no manifest/);
    expect(() => assembleSkill(doc, {}, [tool, tool])).toThrow(/twice/);
    expect(() => assembleSkill(doc, { extra: 1 }, [])).toThrow(SkillPackageError);
    const upper = parseSkillDoc("---\nname: Upper_Case\ndescription: d\n---\n");
    expect(() => assembleSkill(upper, {}, [tool])).toThrow(/DNS label/);
  });

  it("points a manifest that still lists per-tool flags to the tool declarations", () => {
    expect(() => assembleSkill(doc, { tools: { a: flags } }, [tool])).toThrow(/declared on each tool in tools.ts/);
  });

  it("refuses malformed declarations, wherever they come from", () => {
    const input = z.object({});
    expect(() => defineTool({ name: "bad.name", description: "", input, ...flags })).toThrow(ToolDeclarationError);
    expect(() => defineTool({ name: "g", description: "", input, ...flags, groups: ["Write"] })).toThrow(/groups.0/);
    expect(() => defineTool({ name: "t", description: "", input, ...flags, timeoutSeconds: 0 })).toThrow(/timeout/);
    // A tools.ts written without defineTool is checked just the same when its folder loads.
    expect(() => assembleSkill(doc, {}, [{ name: "a", description: "a", input, mutates: false }])).toThrow(
      /tool a: approval/,
    );
    expect(() => assembleSkill(doc, {}, [{ ...tool, aproval: true }])).toThrow(/aproval/);
    expect(() => assembleSkill(doc, {}, [{ ...tool, input: { not: "zod" } }])).toThrow(/zod schema/);
  });

  it("refuses a tool that asks for more time than the skill's ksvc is given", () => {
    const slow = defineTool({ name: "slow", description: "", input: z.object({}), ...flags, timeoutSeconds: 60 });
    expect(() => assembleSkill(doc, { timeoutSeconds: 30 }, [slow])).toThrow(/more than the skill's timeoutSeconds/);
    expect(assembleSkill(doc, { timeoutSeconds: 60 }, [slow]).tools).toHaveLength(1);
  });

  it("refuses argument schemas that cannot be published faithfully", () => {
    const bad = defineTool({ name: "b", description: "b", input: z.object({ when: z.date() }), ...flags });
    expect(() => assembleSkill(doc, {}, [bad])).toThrow(SkillPackageError);
    const notObject = defineTool({ name: "c", description: "c", input: z.string(), ...flags });
    expect(() => assembleSkill(doc, {}, [notObject])).toThrow(/object/);
    expect(() => toolInputSchema(notObject)).toThrow(/object/);
  });
});
