import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const readme = readFileSync(new URL("skills/runtime/README.md", root), "utf8");

/** Every ```ts block the README marks with `<!-- quote: <path> -->`, with the file it claims to quote. */
function quotes(): Array<{ path: string; code: string }> {
  const found: Array<{ path: string; code: string }> = [];
  for (const match of readme.matchAll(/<!-- quote: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)) {
    found.push({ path: match[1]!, code: match[2]! });
  }
  return found;
}

describe("skills/runtime/README.md", () => {
  it("teaches with the time skill's own files, quoted as they are (so the example is typechecked and runs)", () => {
    const quoted = quotes();
    expect(quoted.map((quote) => quote.path)).toEqual([
      "skills/time/tools.ts",
      "skills/time/manifest.ts",
      "skills/time/handlers.ts",
      "skills/time/definition.ts",
      "skills/time/app.ts",
    ]);
    for (const { path, code } of quoted) {
      expect(readFileSync(new URL(path, root), "utf8"), path).toContain(code);
    }
  });
});
