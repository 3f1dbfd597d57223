import { describe, expect, it } from "vitest";
import { freshInstance } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

/**
 * A skill's token (scope `notes`, named after the skill) opens its own key-value namespace `skill-<name>`, where
 * serveSkill records the mutating calls it ran, and no other namespace.
 */
describe.each(TARGETS)("a skill's own namespace on $name", (target) => {
  const suite = useTarget(target);

  it("opens skill-<name> to that skill only", async () => {
    const { h } = suite();
    const name = `deploy${freshInstance()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 20)}`;
    const skill = h.client({ kind: "notes", name });
    const own = { namespace: `skill-${name}` };
    expect((await skill.dedup(own, { key: "call:1", ttlMs: 60_000, value: "inflight:x" })).firstSeen).toBe(true);
    await skill.putValue(own, "call:1", "done:abc", 60_000);
    expect(await skill.getValue(own, "call:1")).toMatchObject({ value: "done:abc" });

    const other = h.client({ kind: "notes", name: `${name}x` });
    await expect(other.getValue(own, "call:1")).rejects.toMatchObject({ status: 403 });
    await expect(h.client({ kind: "notes" }).getValue(own, "call:1")).rejects.toMatchObject({ status: 403 });
    await expect(
      skill.dedup({ namespace: `slack-${freshInstance()}` }, { key: "x", ttlMs: 1000 }),
    ).rejects.toMatchObject({ status: 403 });
  });
});
