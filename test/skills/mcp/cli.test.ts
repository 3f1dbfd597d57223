import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { formatSkillsList, runSkillsList } from "../../../cli/commands/skills.ts";
import { EVERYTHING, FILESYSTEM } from "./support/servers.ts";

describe("knclaw skills list --config", () => {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-mcp-list-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("shows each MCP server, the tools it offers now and which need approval", async () => {
    const path = join(dir, "knclaw.yaml");
    writeFileSync(
      path,
      stringify({
        apiVersion: "knclaw.dev/v1alpha1",
        kind: "Platform",
        metadata: { name: "dev", namespace: "knclaw" },
        // No images: like knclaw dev, listing a config's skills pulls nothing.
        policies: { default: { tools: { allow: ["files.*", "everything.*"] } } },
        skills: {
          files: {
            mcp: { transport: "stdio", command: process.execPath, args: [FILESYSTEM, dir], deny: ["move_file"] },
          },
          everything: {
            mcp: { transport: "stdio", command: process.execPath, args: [EVERYTHING, "stdio"], allow: ["echo"] },
          },
        },
        instances: { assistant: { model: "demo/echo", skills: ["files", "everything"] } },
      }),
    );
    const result = await runSkillsList({ config: path, env: {} });
    const files = result.skills.find((skill) => skill.name === "files")!;
    expect(files.kind).toBe("mcp");
    expect(files.tools.find((tool) => tool.name === "write_file")).toMatchObject({ approval: true, mutates: true });
    expect(files.tools.find((tool) => tool.name === "read_text_file")).toMatchObject({ approval: false });
    expect(files.tools.some((tool) => tool.name === "move_file")).toBe(false);
    const everything = result.skills.find((skill) => skill.name === "everything")!;
    expect(everything.tools.map((tool) => tool.name)).toEqual(["echo"]);
    const text = formatSkillsList(result);
    expect(text).toMatch(/files\s+MCP server, \d+ tools, \d+ need approval/);
    expect(text).toContain("write_file (approval)");
  });
});
