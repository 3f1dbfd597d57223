import { describe, expect, it } from "vitest";
import type { MemoryScope } from "../../../clients/memory/tokens.ts";
import { freshInstance, instanceScope, OPERATOR } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

/**
 * A skill's own key-value namespace `skill-<name>`, where serveSkill records the mutating calls it ran: opened by the
 * skill's `skill` token (a skill that keeps no notes), by a `notes` token named after it (the memory skill) and by the
 * operator; never by a channel, the gateway or another skill. A `skill` token opens nothing beyond it: no instance's
 * sessions, notes, runs, values, budgets, locks, audit, identities or pairing, no other namespace, no dead letters.
 */
describe.each(TARGETS)("a skill's own namespace on $name", (target) => {
  const suite = useTarget(target);
  const skillName = () =>
    `deploy${freshInstance()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 20)}`;

  it.each([
    ["skill", (name: string): MemoryScope => ({ kind: "skill", name })],
    ["notes", (name: string): MemoryScope => ({ kind: "notes", name })],
  ])("opens skill-<name> to that skill's %s token only", async (_kind, scopeOf) => {
    const { h } = suite();
    const name = skillName();
    const skill = h.client(scopeOf(name));
    const own = { namespace: `skill-${name}` };
    expect((await skill.dedup(own, { key: "call:1", ttlMs: 60_000, value: "inflight:x" })).firstSeen).toBe(true);
    await skill.putValue(own, "call:1", "done:abc", 60_000);
    expect(await skill.getValue(own, "call:1")).toMatchObject({ value: "done:abc" });
    expect(await skill.deleteValue(own, "call:1")).toBe(true);

    for (const other of [
      { kind: "skill", name: `${name}x` },
      { kind: "notes", name: `${name}x` },
      { kind: "notes" },
      // Components that may use any other namespace cannot read or forge a skill's records.
      { kind: "channel", name },
      { kind: "gateway" },
    ] satisfies MemoryScope[]) {
      await expect(h.client(other).getValue(own, "call:1"), JSON.stringify(other)).rejects.toMatchObject({
        status: 403,
      });
    }
    await expect(
      skill.dedup({ namespace: `slack-${freshInstance()}` }, { key: "x", ttlMs: 1000 }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it("a skill token opens no instance data, no other namespace and no dead letters (403 for each)", async () => {
    const { h } = suite();
    const name = skillName();
    const instance = freshInstance();
    // Data the skill must not reach, written by those allowed to.
    const owner = h.client(instanceScope(instance));
    await owner.appendMessages(instance, "main", { messages: [{ id: "m1", role: "user", content: "secret" }] });
    const { note } = await owner.addNote(instance, { text: "private note" });
    const { run } = await owner.createRun(instance, {});
    await owner.putValue({ instance }, "k", "v", 60_000);
    await h.client(OPERATOR).putValue({ namespace: `skill-${name}x` }, "call:1", "done:x", 60_000);

    const skill = h.client({ kind: "skill", name });
    const refused: Array<[string, () => Promise<unknown>]> = [
      ["read a session", () => skill.readSession(instance, "main")],
      [
        "append to a session",
        () => skill.appendMessages(instance, "main", { messages: [{ id: "m2", role: "user", content: "x" }] }),
      ],
      ["list sessions", () => skill.listSessions(instance)],
      ["read a note", () => skill.getNote(instance, note.id)],
      ["add a note", () => skill.addNote(instance, { text: "x" })],
      ["search notes", () => skill.searchNotes(instance, { query: "private" })],
      ["read a run", () => skill.getRun(instance, run.id)],
      ["find a run by id", () => skill.findRun(run.id)],
      ["list runs", () => skill.listRuns(instance)],
      ["create a run", () => skill.createRun(instance, {})],
      ["read an instance value", () => skill.getValue({ instance }, "k")],
      ["claim an instance dedup key", () => skill.dedup({ instance }, { key: "x", ttlMs: 1000 })],
      ["consume a budget", () => skill.consumeBudget(instance, "tokens", { amount: 1, limit: 10, windowMs: 60_000 })],
      ["take a lock", () => skill.acquireLock(instance, "l", { owner: "h", ttlMs: 1000 })],
      ["read the audit stream", () => skill.readAudit(instance)],
      ["append to the audit stream", () => skill.appendAudit(instance, [{ type: "x", data: {} } as never])],
      ["look up a person", () => skill.getPerson(instance, { channel: "slack", sender: "u1" })],
      ["list pairing", () => skill.listPairing(instance)],
      ["read another skill's records", () => skill.getValue({ namespace: `skill-${name}x` }, "call:1")],
      ["read a channel's namespace", () => skill.getValue({ namespace: "slack" }, "k")],
      ["list dead letters", () => skill.listDeadLetters("default")],
    ];
    for (const [what, call] of refused) {
      await expect(call(), what).rejects.toMatchObject({ status: 403 });
    }
  });
});
