import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { formatSkillsList, registerSkillsCommand, runSkillsList, runSkillsNew } from "../../cli/commands/skills.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { roleKeys } from "../support/event-keys.ts";
import { postToolRequest, signedToolRequest } from "./support/call.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
// Inside the checkout (a dot folder the skill loader skips) so the scaffold's `zod` import resolves like a real skill's.
const scratch = mkdtempSync(join(new URL(".", import.meta.url).pathname, ".scaffold-"));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("knclaw skills list", () => {
  it("lists the built-in skills with their tools and approval defaults", async () => {
    const result = await runSkillsList();
    expect(result.failures).toEqual([]);
    expect(result.skills.map((s) => s.name)).toEqual(["http", "kubernetes", "memory", "time"]);
    const kubernetes = result.skills.find((s) => s.name === "kubernetes")!;
    expect(kubernetes.kind).toBe("tools");
    expect(kubernetes.tools.filter((t) => t.approval).map((t) => t.name)).toEqual([
      "scale_deployment",
      "restart_deployment",
      "delete_pod",
      "cordon_node",
    ]);
    const text = formatSkillsList(result);
    expect(text).toMatch(/^kubernetes\s+17 tools, 4 need approval$/m);
    expect(text).toMatch(/tools: .*scale_deployment \(approval\)/);
  });

  it("includes extra folders, OpenClaw-style ones as instructions, with unmet gating and load failures", async () => {
    const result = await runSkillsList({ dirs: [fixtures], env: {} });
    const todoist = result.skills.find((s) => s.name === "todoist")!;
    expect(todoist).toMatchObject({ kind: "instructions", tools: [], unmet: ["bin curl", "env TODOIST_API_KEY"] });
    expect(result.failures.map((f) => f.dir)).toEqual([
      join(fixtures, "missing-flags"),
      join(fixtures, "no-frontmatter"),
    ]);
    const text = formatSkillsList(result);
    expect(text).toMatch(/^todoist\s+instructions only$/m);
    expect(text).toMatch(/not offered, requires: bin curl, env TODOIST_API_KEY/);
    expect(text).toMatch(/failed to load .*no-frontmatter.*no description/);
    expect(text).toMatch(/failed to load .*missing-flags: .*tool one: mutates/);
  });
});

describe("knclaw skills new", () => {
  it("scaffolds a skill that loads, and serves a call behind the runtime", async () => {
    const result = await runSkillsNew({ name: "weather", dir: scratch });
    expect(result.files.map((f) => f.slice(result.dir.length + 1)).sort()).toEqual([
      "SKILL.md",
      "app.ts",
      "handlers.ts",
      "main.ts",
      "manifest.ts",
      "tools.ts",
    ]);
    expect(result.skill).toMatchObject({
      name: "weather",
      tools: [{ name: "greet", mutates: false, approval: false, groups: ["weather:read"] }],
    });
    expect(readFileSync(join(result.dir, "SKILL.md"), "utf8")).not.toMatch(/TODO/);

    const { createApp } = (await import(join(result.dir, "app.ts"))) as {
      createApp: (env: Record<string, string>) => { fetch(request: Request): Promise<Response> };
    };
    const key = generateSigningKey();
    const app = createApp({
      KNCLAW_AGENT_PUBLIC_KEY: key.publicKeyPem,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/weather").privateKeyPem,
      NODE_ENV: "test",
    });
    const args = { name: "Ada" };
    const event = signedToolRequest(
      { runId: "r", callId: "c", instance: "assistant", skill: "weather", tool: "greet", arguments: args },
      parsePrivateKey(key.privateKeyPem),
    );
    const { completed } = await postToolRequest(app, event);
    expect(completed!.outcome).toEqual({
      ok: true,
      result: { greeting: "Hello, Ada!", instance: "assistant" },
    });
  });

  it("scaffolds an instructions-only skill", async () => {
    const result = await runSkillsNew({ name: "style-guide", dir: scratch, instructionsOnly: true });
    expect(result.files.map((f) => f.slice(result.dir.length + 1))).toEqual(["SKILL.md"]);
    expect(result.skill).toMatchObject({ name: "style-guide", tools: [] });
    expect(result.skill.manifest).toBeUndefined();
  });

  it("refuses bad names and existing folders without touching them", async () => {
    await expect(runSkillsNew({ name: "Bad_Name", dir: scratch })).rejects.toThrow(/DNS label/);
    await expect(runSkillsNew({ name: "../escape", dir: scratch })).rejects.toThrow(/DNS label/);
    expect(existsSync(join(scratch, "..", "escape"))).toBe(false);
    await expect(runSkillsNew({ name: "weather", dir: scratch })).rejects.toThrow(/already exists/);
  });

  it("registers as `knclaw skills new|list`", async () => {
    const program = new Command("knclaw").exitOverride();
    registerSkillsCommand(program);
    const skills = program.commands.find((c) => c.name() === "skills")!;
    expect(skills.commands.map((c) => c.name()).sort()).toEqual(["list", "new"]);
    await program.parseAsync(["node", "knclaw", "skills", "new", "from-cli", "--dir", scratch, "--instructions-only"]);
    expect(existsSync(join(scratch, "from-cli", "SKILL.md"))).toBe(true);
  });
});
