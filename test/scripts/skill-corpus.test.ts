import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = fileURLToPath(new URL("../skills/openclaw-fixtures/", import.meta.url));

describe("npm run skills:corpus", () => {
  it("compares every folder with OpenClaw's reading and ends with one JSON line", async () => {
    const { stdout } = await run(process.execPath, ["scripts/skill-corpus.ts", fixtures], { cwd: root });
    const lines = stdout.trim().split("\n");
    const summary = JSON.parse(lines.at(-1)!);
    // The fixtures' folders (the clawhub/ group is two levels down, so not a corpus folder here): `broken` has no
    // description and both skip it; `lowercase` has only a skill.md, which OpenClaw on Linux does not read.
    expect(summary).toMatchObject({
      folders: 11,
      openclawLoads: 9,
      knclawLoads: 10,
      identical: 9,
      identicalShare: 1,
      differences: 1,
      unexplained: 0,
      reasons: { "only a lowercase skill.md": 1 },
    });
    expect(lines).toContainEqual(
      expect.stringMatching(/^lowercase: loads: knclaw true, OpenClaw false: only a lowercase skill\.md/),
    );
    expect(lines.at(-2)).toMatch(/9 of OpenClaw's 9 load identically in knclaw \(100\.00 %\)/);
  });
});
